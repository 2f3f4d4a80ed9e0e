/**
 * An outbound listener: the application connects to it in plaintext, and the proxy carries the
 * connection to one meshed destination over mutual TLS.
 *
 * A route names two different ports, which must not be confused:
 * - `destination`: where the TLS connection goes — the server proxy's inbound listener
 *   (Linkerd's 4143 on the server pod), e.g. `10.0.0.7:4143`.
 * - `targetPort` (opaque routes only): the server application's own port, sent in the transport
 *   header; the server proxy forwards the stream to 127.0.0.1:<targetPort> on its side. A route
 *   that is not opaque sends no header, and the server proxy forwards to its application address.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../../common/log.ts';
import { dial, listen, type HostPort, type Listener } from '../../io/listener.ts';
import { resetSide } from '../../io/pump.ts';
import { HandshakeFailure, handshakeFailureReason, type HandshakeFailureReason } from '../../meshtls/failure-reason.ts';
import type { CredentialStore } from '../../meshtls/store.ts';
import { encodeTransportHeader, TRANSPORT_ALPN } from '../../transport-header/header.ts';
import type { ProxyMetrics } from '../admin/metrics.ts';
import { forward } from '../forward.ts';
import { connectMeshTls } from './connect.ts';

export interface OutboundRoute {
  listen: HostPort;
  /** The server proxy's inbound address. */
  destination: HostPort;
  /** The identity the server's certificate must carry, exactly. */
  identity: string;
  /** Send ALPN `transport.l5d.io/v1` and a transport header naming `targetPort`. */
  opaque: boolean;
  /** Opaque routes: the application port on the server workload. */
  targetPort?: number;
}

export interface OutboundOptions {
  route: OutboundRoute;
  /** TCP connect plus TLS handshake to the server proxy. */
  connectTimeoutMs: number;
  store: CredentialStore;
  metrics: ProxyMetrics;
  logger: Logger;
}

export function startOutbound(options: OutboundOptions): Promise<Listener> {
  const { route } = options;
  const logger = options.logger.child({ component: 'outbound', listen: `${route.listen.host}:${route.listen.port}`, server: route.identity });
  return listen(route.listen, (socket, track) => {
    handle(socket, track, { ...options, logger }).catch((err: unknown) => {
      logger.error({ event: 'outbound.internal_error', err }, 'outbound connection failed unexpectedly');
      if (!socket.destroyed) socket.resetAndDestroy();
    });
  });
}

async function handle(app: Socket, track: (s: Socket) => void, options: OutboundOptions): Promise<void> {
  const { route, store, metrics, logger } = options;
  const started = performance.now();
  const remaining = () => Math.max(1, options.connectTimeoutMs - (performance.now() - started));
  const failed = (reason: HandshakeFailureReason, message: string) => {
    metrics.handshakeFailures.inc({ direction: 'outbound', reason });
    logger.warn({ event: 'outbound.handshake_failed', reason, destination: `${route.destination.host}:${route.destination.port}` }, `refusing the connection: ${message}`);
  };

  // The application gets RST, not FIN, on every refusal: a FIN would look like an empty answer.
  const tls = store.snapshot().tls;
  if (!tls) {
    failed('no-identity', 'this proxy has no certificate yet');
    return void app.resetAndDestroy();
  }
  let raw: Socket;
  try {
    raw = await dial(route.destination, options.connectTimeoutMs);
  } catch (err) {
    failed('connect', (err as Error).message);
    return void app.resetAndDestroy();
  }
  track(raw);
  let tlsSocket;
  try {
    tlsSocket = await connectMeshTls(raw, {
      context: tls.client,
      serverIdentity: route.identity,
      ...(route.opaque ? { alpn: [TRANSPORT_ALPN] } : {}),
      timeoutMs: remaining(),
    });
  } catch (err) {
    const failure = err instanceof HandshakeFailure ? err : new HandshakeFailure('other', String(err));
    failed(failure.reason, failure.message);
    return void app.resetAndDestroy(); // connectMeshTls has reset the connection to the server
  }
  const server = { stream: tlsSocket, tcp: raw };
  if (route.opaque) {
    // Writing a header to a server that did not agree to the protocol would corrupt its stream.
    if (tlsSocket.alpnProtocol !== TRANSPORT_ALPN) {
      failed('alpn', `the server did not negotiate ${TRANSPORT_ALPN}`);
      app.resetAndDestroy();
      return resetSide(server);
    }
    tlsSocket.write(encodeTransportHeader({ port: route.targetPort!, name: '' }));
  }
  const result = await forward({ direction: 'outbound', peerIdentity: route.identity, accepted: { stream: app, tcp: app }, upstream: server, metrics, logger });
  // In TLS 1.3 the server judges our certificate after our handshake has finished: its refusal
  // arrives as an alert on the open stream. Count it with the handshake failures it really is.
  if (result.failedSide === 'b' && result.error && handshakeFailureReason(result.error) === 'rejected-by-peer') {
    failed('rejected-by-peer', result.error.message);
  }
}
