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
  return new Promise<TLSSocket>((resolve, reject) => {
    const done = (failure?: HandshakeFailure) => {
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
