/**
 * Terminates mutual TLS on an accepted connection whose ClientHello named this proxy. The
 * ClientHello bytes were put back on the socket by detection; TLSSocket feeds them to OpenSSL
 * before it reads the handle.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { resetSide } from '../../io/pump.ts';
import { HandshakeFailure, handshakeFailureReason } from '../../meshtls/failure-reason.ts';
import { peerIdentity } from '../../meshtls/peer-identity.ts';
import { TRANSPORT_ALPN } from '../../transport-header/header.ts';

export interface TerminatedTls {
  tlsSocket: TLSSocket;
  /** The single DNS SAN of the client's verified certificate. */
  clientIdentity: string;
  /** True when the client asked for, and got, ALPN `transport.l5d.io/v1`: a transport header follows. */
  transportHeader: boolean;
}

export interface TerminateOptions {
  context: SecureContext;
  /** The ALPN protocols of the ClientHello, from detection. */
  offeredAlpn: string[];
  timeoutMs: number;
}

/** @throws HandshakeFailure with the reason to count, after scheduling the connection's reset. */
export function terminateMeshTls(socket: Socket, options: TerminateOptions): Promise<TerminatedTls> {
  // ALPN is set per connection: node fails a handshake whose client offers protocols none of which
  // the server lists, so the server lists the transport protocol only to clients that offer it,
  // and otherwise nothing (ALPN is then simply not negotiated).
  const alpn = options.offeredAlpn.includes(TRANSPORT_ALPN) ? { ALPNProtocols: [TRANSPORT_ALPN] } : {};
  const tlsSocket = new TLSSocket(socket, {
    isServer: true,
    secureContext: options.context,
    requestCert: true,
    rejectUnauthorized: true,
    ...alpn,
  });
  return new Promise<TerminatedTls>((resolve, reject) => {
    const done = (outcome: { ok: TerminatedTls } | { failure: HandshakeFailure }) => {
      clearTimeout(timer);
      tlsSocket.off('secure', onSecure);
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
      // Until the pump takes over, a late error must not go unhandled (it would end the process).
      tlsSocket.on('error', () => {});
      if ('ok' in outcome) return resolve(outcome.ok);
      // Reset (RST) rather than close: to the client a refused handshake is not a clean end.
      resetSide({ stream: tlsSocket, tcp: socket });
      reject(outcome.failure);
    };
    const onSecure = () => {
      // A TLSSocket made outside tls.Server does not enforce rejectUnauthorized for the client's
      // chain (tls.Server does it in its own 'secure' handler); OpenSSL only enforces that a
      // certificate was sent. So the verification result is checked here, failing closed.
      const verifyError = chainVerifyError(tlsSocket);
      if (verifyError) {
        return done({ failure: new HandshakeFailure(handshakeFailureReason(verifyError), `client certificate rejected: ${verifyError.message}`, { cause: verifyError }) });
      }
      let clientIdentity: string;
      try {
        // The SAN string from the abbreviated legacy certificate object, not from
        // getPeerX509Certificate(): on a server-side TLSSocket that call leaks native memory in
        // node 20.20 and 24.21 (~5 KiB per connection, RSS growing without bound even across full
        // GCs; bench/proxy.ts made it visible), and on node 20 it also duplicates the client's
        // issuer certificate (~90 µs per handshake). Both accessors print the SANs with the same
        // node function: the string, and so the identity, is identical.
        clientIdentity = peerIdentity(tlsSocket.getPeerCertificate(false).subjectaltname);
      } catch (err) {
        return done({ failure: new HandshakeFailure('identity-mismatch', `client certificate: ${(err as Error).message}`, { cause: err }) });
      }
      return done({ ok: { tlsSocket, clientIdentity, transportHeader: tlsSocket.alpnProtocol === TRANSPORT_ALPN } });
    };
    const onError = (err: Error) => done({ failure: new HandshakeFailure(handshakeFailureReason(err), err.message, { cause: err }) });
    const onClose = () => done({ failure: new HandshakeFailure('closed', 'the client closed the connection during the handshake') });
    const timer = setTimeout(
      () => done({ failure: new HandshakeFailure('timeout', `TLS handshake not finished within ${options.timeoutMs} ms`) }),
      options.timeoutMs,
    );
    tlsSocket.once('secure', onSecure);
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
  });
}

/**
 * OpenSSL's verdict on the client's chain against the context's CA (the bundle), as node's own
 * tls.Server reads it. Fails closed: if node ever stops exposing it, every client is refused
 * (and the end to end tests say so) rather than every client accepted.
 */
function chainVerifyError(tlsSocket: TLSSocket): Error | null {
  const handle = (tlsSocket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (typeof handle?.verifyError !== 'function') {
    return Object.assign(new Error('cannot read the certificate verification result'), { code: 'ERR_VERIFY_RESULT_UNAVAILABLE' });
  }
  return handle.verifyError();
}
