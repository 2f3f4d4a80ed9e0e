/**
 * Hands an accepted connection and its upstream to the byte pump, with the connection metrics
 * and one log line when it ends. Shared by inbound and outbound.
 */
import type { Logger } from '../../common/log.ts';
import { pump, type PumpResult, type PumpSide } from '../io/pump.ts';
import { connectionLabels, type Direction, type ProxyMetrics } from './admin/metrics.ts';

export interface ForwardOptions {
  direction: Direction;
  /** The authenticated peer: the client's identity inbound, the server's outbound. */
  peerIdentity: string | undefined;
  /** The connection this proxy accepted; bytes are counted on it. */
  accepted: PumpSide;
  upstream: PumpSide;
  metrics: ProxyMetrics;
  logger: Logger;
}

export async function forward(options: ForwardOptions): Promise<PumpResult> {
  const { direction, metrics } = options;
  const labels = connectionLabels(direction, options.peerIdentity);
  // Resolve the label children once per connection, not per chunk.
  const read = metrics.tcpBytes.labels({ direction, flow: 'read' });
  const write = metrics.tcpBytes.labels({ direction, flow: 'write' });
  metrics.tcpOpen.inc(labels);
  const result = await pump(options.accepted, options.upstream, {
    onRead: (from, bytes) => (from === 'a' ? read : write).inc(bytes),
  }).done;
  metrics.tcpClose.inc(labels);
  options.logger.debug(
    {
      event: 'proxy.connection_closed',
      outcome: result.outcome,
      failedSide: result.failedSide === 'a' ? 'client' : result.failedSide === 'b' ? 'upstream' : undefined,
      error: result.error?.message,
      bytesFromClient: result.bytesRead.a,
      bytesToClient: result.bytesRead.b,
    },
    'connection closed',
  );
  return result;
}
