/** Refused connections, by the Server that refused them and by client, with one example each. */
import type { DecisionRecord } from '../../policy/audit/decision-log.ts';
import { clientOf } from '../../policy/audit/flow-groups.ts';
import type { DenialExample, Denials } from '../model.ts';
import { compareText, utc } from '../window.ts';

type ServerGroup = Denials['byServer'][number];
type ClientGroup = Denials['byClient'][number];

/** @param records the decisions in the window */
export function denials(records: readonly DecisionRecord[]): Denials {
  const byServer = new Map<string, ServerGroup & { seen: Set<string> }>();
  const byClient = new Map<string, ClientGroup & { seen: Set<string> }>();
  let total = 0;
  for (const r of records) {
    if (r.decision !== 'deny') continue;
    total++;
    const client = clientOf(r);
    const target = r.server !== null ? `Server ${r.server}` : `${r.pod}:${r.port} (default policy)`;
    const example = (): DenialExample => ({ time: utc(r.time), decisionId: r.decisionId, reason: r.reason, pod: r.pod, port: r.port, client });

    let s = byServer.get(target);
    if (!s) {
      const where = r.server !== null ? { pod: null, port: null } : { pod: r.pod, port: r.port };
      s = { target, server: r.server, ...where, count: 0, clients: 0, example: example(), seen: new Set() };
      byServer.set(target, s);
    }
    s.count++;
    s.seen.add(client);

    let c = byClient.get(client);
    if (!c) {
      c = { client, clientIdentity: r.clientIdentity, clientIp: r.clientIdentity === null ? r.clientIp : null, count: 0, targets: 0, example: example(), seen: new Set() };
      byClient.set(client, c);
    }
    c.count++;
    c.seen.add(target);
  }
  return {
    total,
    byServer: [...byServer.values()]
      .map(({ seen, ...g }) => ({ ...g, clients: seen.size }))
      .sort((a, b) => b.count - a.count || compareText(a.target, b.target)),
    byClient: [...byClient.values()]
      .map(({ seen, ...g }) => ({ ...g, targets: seen.size }))
      .sort((a, b) => b.count - a.count || compareText(a.client, b.client)),
  };
}
