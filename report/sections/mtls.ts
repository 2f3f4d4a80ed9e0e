/**
 * mTLS coverage from the decision logs: which share of the admitted connections, and of their
 * bytes, the proxies terminated with mutual TLS; every plaintext flow; refusals counted apart
 * (a refused connection carries no data, whatever its TLS state).
 */
import type { DecisionRecord } from '../../policy/audit/decision-log.ts';
import type { MtlsCoverage, PlaintextFlow, TrafficTotals } from '../model.ts';
import { compareText, earliest, latest, share, utc } from '../window.ts';
import { coverageTimeline } from './timeline.ts';

export function mtlsCoverage(records: readonly DecisionRecord[], range: { since: Date | null; until: Date }): MtlsCoverage {
  const decisions = { total: records.length, allow: 0, audit: 0, deny: 0 };
  const admitted: TrafficTotals = { connections: 0, mtlsConnections: 0, plaintextConnections: 0, bytes: 0, mtlsBytes: 0, plaintextBytes: 0 };
  const denied = { connections: 0, mtls: 0, plaintext: 0 };
  const flows = new Map<string, PlaintextFlow>();
  for (const r of records) {
    decisions[r.decision]++;
    const bytes = r.bytesIn + r.bytesOut;
    if (r.decision === 'deny') {
      denied.connections++;
      denied[r.tls ? 'mtls' : 'plaintext']++;
    } else {
      admitted.connections++;
      admitted.bytes += bytes;
      if (r.tls) {
        admitted.mtlsConnections++;
        admitted.mtlsBytes += bytes;
      } else {
        admitted.plaintextConnections++;
        admitted.plaintextBytes += bytes;
      }
    }
    if (!r.tls) addFlow(flows, r, bytes);
  }
  return {
    decisions,
    admitted,
    denied,
    connectionShare: share(admitted.mtlsConnections, admitted.connections),
    byteShare: share(admitted.mtlsBytes, admitted.bytes),
    plaintextFlows: [...flows.values()].sort(
      (a, b) => b.connections - a.connections || compareText(a.clientIp, b.clientIp) || compareText(a.pod, b.pod) || a.port - b.port,
    ),
    timeline: coverageTimeline(records, range),
  };
}

function addFlow(flows: Map<string, PlaintextFlow>, r: DecisionRecord, bytes: number): void {
  const key = `${r.clientIp} ${r.pod}:${r.port}`;
  let flow = flows.get(key);
  if (!flow) {
    flow = { clientIp: r.clientIp, pod: r.pod, port: r.port, connections: 0, admitted: 0, denied: 0, bytes: 0, firstSeen: utc(r.time), lastSeen: utc(r.time) };
    flows.set(key, flow);
  }
  flow.connections++;
  flow[r.decision === 'deny' ? 'denied' : 'admitted']++;
  flow.bytes += bytes;
  flow.firstSeen = earliest(flow.firstSeen, utc(r.time));
  flow.lastSeen = latest(flow.lastSeen, utc(r.time));
}
