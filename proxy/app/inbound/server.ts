/**
 * The inbound listener (Linkerd's 4143): every connection to this workload arrives here.
 *
 *   detect ─┬─ TLS, SNI = our identity ─> mutual TLS ─┬─ ALPN transport.l5d.io/v1 ─> transport header ─> port from the header
 *           │                                         └─ otherwise ───────────────────────────────────> the application address
 *           └─ other TLS, not TLS ──> plaintext, unauthenticated ─────────────────────────────────────> the application address
 *   then policy.decide(facts) ─> dial 127.0.0.1:<port> ─> pump, watched: a policy change that no
 *   longer permits the connection resets it (enforcement.ts); each decision is one record of the
 *   decision log when there is one (a denial at once, an admission when the connection ends)
 *
 * Detection, the handshake and the transport header together must finish within the detect
 * timeout. Every refusal resets the client (RST): a FIN would read as a clean, empty answer.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../../common/log.ts';
import { dial, listen, remoteAddressOf, remoteIpOf, type HostPort, type Listener } from '../../io/listener.ts';
import { resetSide, type PumpSide } from '../../io/pump.ts';
import { HandshakeFailure } from '../../meshtls/failure-reason.ts';
import type { CredentialStore } from '../../meshtls/store.ts';
import { DetectError, detectTls } from '../../tls/detect.ts';
import { readTransportHeader } from '../../transport-header/read.ts';
import type { ProxyMetrics, RefusalReason } from '../admin/metrics.ts';
import { forward } from '../forward.ts';
import type { InboundConnectionFacts } from './authorize.ts';
import type { InboundEnforcement } from './enforcement.ts';
import { terminateMeshTls } from './terminate.ts';

export interface InboundOptions {
  listen: HostPort;
  /** Where connections without a transport header go. */
  app: HostPort;
  /** Ports a transport header may name, on the application's host; anything else is refused. */
  allowedTargetPorts: ReadonlySet<number>;
  detectTimeoutMs: number;
  /** For dialling the application. */
  connectTimeoutMs: number;
  store: CredentialStore;
  /** Decides, counts and logs each connection, and resets the open ones a policy change denies. */
  enforcement: InboundEnforcement;
  metrics: ProxyMetrics;
  logger: Logger;
}

export function startInbound(options: InboundOptions): Promise<Listener> {
  const logger = options.logger.child({ component: 'inbound' });
  return listen(options.listen, (socket, track) => {
    handle(socket, track, { ...options, logger }).catch((err: unknown) => {
      // A bug of ours must cost one connection, not the process.
      logger.error({ event: 'inbound.internal_error', err }, 'inbound connection failed unexpectedly');
      if (!socket.destroyed) socket.resetAndDestroy();
    });
  });
}

async function handle(socket: Socket, track: (s: Socket) => void, options: InboundOptions): Promise<void> {
  const { store, metrics } = options;
  const started = performance.now();
  const remaining = () => Math.max(1, options.detectTimeoutMs - (performance.now() - started));
  const clientAddress = remoteAddressOf(socket);
  const logger = options.logger.child({ client: clientAddress });

  const refuse = (reason: RefusalReason, message: string, fields: object = {}) => {
    metrics.tcpRefused.inc({ direction: 'inbound', reason });
    logger.info({ event: 'inbound.refused', reason, ...fields }, message);
  };
  const handshakeFailed = (reason: HandshakeFailure['reason'], message: string) => {
    metrics.handshakeFailures.inc({ direction: 'inbound', reason });
    logger.warn({ event: 'inbound.handshake_failed', reason }, `TLS handshake failed: ${message}`);
  };

  let detection;
  try {
    detection = await detectTls(socket, { timeoutMs: options.detectTimeoutMs });
  } catch (err) {
    if (err instanceof DetectError && err.reason === 'timeout') refuse('detect-timeout', err.message);
    else logger.debug({ event: 'inbound.closed_during_detection', reason: (err as Error).message }, 'client left during detection');
    return void socket.destroy();
  }

  let client: PumpSide = { stream: socket, tcp: socket };
  let clientIdentity: string | undefined;
  let targetPort = options.app.port;
  if (detection.kind === 'tls' && detection.serverName === store.localIdentity) {
    const tls = store.snapshot().tls;
    if (!tls) {
      handshakeFailed('no-identity', 'this proxy has no certificate yet');
      return void socket.resetAndDestroy();
    }
    let terminated;
    try {
      terminated = await terminateMeshTls(socket, { context: tls.server, offeredAlpn: detection.alpn, timeoutMs: remaining() });
    } catch (err) {
      const failure = err instanceof HandshakeFailure ? err : new HandshakeFailure('other', String(err));
      return handshakeFailed(failure.reason, failure.message); // terminateMeshTls has reset the connection
    }
    client = { stream: terminated.tlsSocket, tcp: socket };
    clientIdentity = terminated.clientIdentity;
    if (terminated.transportHeader) {
      let header;
      try {
        header = await readTransportHeader(terminated.tlsSocket, { timeoutMs: remaining() });
      } catch (err) {
        refuse('transport-header', `bad transport header: ${(err as Error).message}`, { clientIdentity });
        return resetSide(client);
      }
      if (!options.allowedTargetPorts.has(header.port)) {
        refuse('port-not-allowed', `transport header names port ${header.port}, which is not an allowed target port`, { clientIdentity, port: header.port });
        return resetSide(client);
      }
      // The header's session protocol (HTTP/1, HTTP/2) is only a hint for protocol-aware
      // proxies; this one forwards bytes, so every stream is treated as opaque.
      targetPort = header.port;
    }
  } else if (detection.kind === 'tls') {
    logger.debug({ event: 'inbound.tls_passthrough', sni: detection.serverName }, 'TLS for another name: forwarded as plaintext');
  }

  const facts: InboundConnectionFacts = {
    ...(clientIdentity !== undefined ? { clientIdentity } : {}),
    clientIp: remoteIpOf(socket),
    clientAddress,
    tls: clientIdentity !== undefined,
    targetPort,
  };
  const admission = options.enforcement.admit(facts);
  if (!admission.admitted) return resetSide(client); // counted, logged (inbound.denied) and recorded by admit
  // Watched from here on: a policy change while the application is dialled or the bytes flow
  // resets the connection. Its decision record is written at closed(), with the bytes forwarded.
  const connection = options.enforcement.track(facts, admission, client, started);
  let bytes: { in: number; out: number } | undefined;
  try {
    let upstream: Socket;
    try {
      upstream = await dial({ host: options.app.host, port: targetPort }, options.connectTimeoutMs);
    } catch (err) {
      if (connection.revoked) return;
      refuse('app-unreachable', `application ${options.app.host}:${targetPort} unreachable: ${(err as Error).message}`, { targetPort });
      return resetSide(client);
    }
    track(upstream);
    if (connection.revoked) return void upstream.resetAndDestroy();
    connection.attach({ stream: upstream, tcp: upstream });
    const result = await forward({ direction: 'inbound', peerIdentity: clientIdentity, accepted: client, upstream: { stream: upstream, tcp: upstream }, metrics, logger });
    bytes = { in: result.bytesRead.a, out: result.bytesRead.b };
  } finally {
    connection.closed(bytes);
  }
}
