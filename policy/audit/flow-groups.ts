/**
 * Logged connections grouped by client and by what decides them (a Server, or a pod port on its
 * default policy), with counts and one example: how impact is reported, so that a thousand
 * refusals of one client read as one line.
 */
import type { DecisionRecord, LogPosition } from './decision-log.ts';

export interface FlowGroup {
  /** The client's identity, or `unauthenticated IP` for a plaintext client. */
  client: string;
  /** `NS/NAME` of the Server that decides; null when a default policy does (then `pod` and `port` say where). */
  server: string | null;
  pod?: string;
  port?: number;
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** One of the connections: where it was logged and why it is in this group. */
  example: { decisionId: string; file: string; line: number; reason: string };
}

export function clientOf(record: Pick<DecisionRecord, 'clientIdentity' | 'clientIp'>): string {
  return record.clientIdentity ?? `unauthenticated ${record.clientIp}`;
}

/** `Server demo/api`, or `demo/api-0:8080 (default policy)`. */
export function targetOf(group: Pick<FlowGroup, 'server' | 'pod' | 'port'>): string {
  return group.server !== null ? `Server ${group.server}` : `${group.pod}:${group.port} (default policy)`;
}

export class FlowGroups {
  readonly #groups = new Map<string, FlowGroup>();

  /** Counts `record` in its group; `server` is who decides in the case reported (not always the logged one). */
  add(record: DecisionRecord, at: LogPosition, server: string | null, reason: string): void {
    const client = clientOf(record);
    const key = server !== null ? `${client}\n${server}` : `${client}\n${record.pod}:${record.port}`;
    const group = this.#groups.get(key);
    if (!group) {
      const where = server !== null ? {} : { pod: record.pod, port: record.port };
      this.#groups.set(key, { client, server, ...where, count: 1, firstSeen: record.time, lastSeen: record.time, example: { decisionId: record.decisionId, file: at.file, line: at.line, reason } });
      return;
    }
    group.count++;
    // Times compare as instants: rotated files and several proxies interleave.
    if (Date.parse(record.time) < Date.parse(group.firstSeen)) group.firstSeen = record.time;
    if (Date.parse(record.time) > Date.parse(group.lastSeen)) group.lastSeen = record.time;
  }

  get total(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.count;
    return n;
  }

  /** Largest groups first, then by client and target. */
  list(): FlowGroup[] {
    return [...this.#groups.values()].sort((a, b) => b.count - a.count || compare(a.client, b.client) || compare(targetOf(a), targetOf(b)));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
