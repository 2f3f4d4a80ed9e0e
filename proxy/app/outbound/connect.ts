/**
 * Opens mutual TLS to a server proxy over an already connected socket: TLS 1.3 with this proxy's
 * client context, SNI = the expected identity, the server's chain verified against the bundle
 * (the context's only CA) and its single DNS SAN required to be exactly the expected identity.
 */
import type { Socket } from 'node:net';
import { connect, type SecureContext, type TLSSocket } from 'node:tls';
import { resetSide } from '../../io/pump.ts';
import { HandshakeFailure, handshakeFailureReason } from '../../meshtls/failure-reason.ts';
import { exactServerIdentity } from '../../meshtls/peer-identity.ts';

export interface MeshTlsConnectOptions {
  context: SecureContext;
  serverIdentity: string;
  /** Offered ALPN protocols; none for a plain mesh connection. */
  alpn?: string[];
  timeoutMs: number;
}

/** @throws HandshakeFailure with the reason to count, after scheduling the reset of `raw`. */
export function connectMeshTls(raw: Socket, options: MeshTlsConnectOptions): Promise<TLSSocket> {
  const tlsSocket = connect({
    socket: raw,
    secureContext: options.context,
    servername: options.serverIdentity,
    rejectUnauthorized: true,
    checkServerIdentity: exactServerIdentity(options.serverIdentity),
    ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
  });
  // Performance, not policy: once OpenSSL has verified the chain, tls.connect hands
  // checkServerIdentity the *detailed* peer certificate (getPeerCertificate(true)): every
  // certificate of the chain turned into a JS object, the anchor looked up in the store, each
  // one's public key decoded and three fingerprints computed. With node 20's OpenSSL 3.0 that
  // is ~350-450 µs of main-thread CPU per connection (~150-220 µs on node 24), the largest single
  // JS cost of an outbound connection in bench/proxy.ts. exactServerIdentity reads only the
  // leaf's `subjectaltname`, which the abbreviated form carries identically, so the handshake
  // gets that form; the chain itself was already checked by OpenSSL against the bundle. The
  // override is an own property of this socket for the duration of the handshake only.
  const getPeerCertificate = tlsSocket.getPeerCertificate;
  Object.defineProperty(tlsSocket, 'getPeerCertificate', {
    configurable: true,
    writable: true,
    value: () => getPeerCertificate.call(tlsSocket, false),
  });
  return new Promise<TLSSocket>((resolve, reject) => {
    const done = (failure?: HandshakeFailure) => {
      // The socket's own method again (the prototype's) for anyone who asks later.
      delete (tlsSocket as { getPeerCertificate?: unknown }).getPeerCertificate;
      clearTimeout(timer);
      tlsSocket.off('secureConnect', onSecure);
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
      // Until the pump takes over, a late error must not go unhandled.
      tlsSocket.on('error', () => {});
      if (!failure) return resolve(tlsSocket);
      resetSide({ stream: tlsSocket, tcp: raw });
      reject(failure);
    };
    const onSecure = () => done();
    const onError = (err: Error) => done(new HandshakeFailure(handshakeFailureReason(err), err.message, { cause: err }));
    const onClose = () => done(new HandshakeFailure('closed', 'the server proxy closed the connection during the handshake'));
    const timer = setTimeout(() => done(new HandshakeFailure('timeout', `TLS handshake not finished within ${options.timeoutMs} ms`)), options.timeoutMs);
    tlsSocket.once('secureConnect', onSecure);
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
  });
}
