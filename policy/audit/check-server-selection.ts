/**
 * Servers that do not govern what their author meant: selecting no pod, naming a port no
 * selected pod has (both leave the pods on the default policy), or colliding with another
 * Server on the same pod port (only one of them applies).
 */
import { selectorMatches } from '../resources/selector.ts';
import type { Server } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, type Finding, type ResourceLocation } from './finding.ts';

export function checkServerSelection(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  // Without pods, "selects no pod" would be said of every Server (check-ports says so once).
  if (ctx.resources.pods.length > 0) for (const server of ctx.resources.servers) findings.push(...selectionFindings(server, ctx));
  findings.push(...conflictFindings(ctx));
  return findings;
}

function selectionFindings(server: Server, ctx: AuditContext): Finding[] {
  const selector = server.podSelector;
  if (!selector) return []; // selects ExternalWorkloads, never pods
  const { namespace, name } = server.meta;
  const pods = ctx.podsIn(namespace).filter((p) => selectorMatches(selector, p.meta.labels));
  if (pods.length === 0) {
    return [
      {
        code: 'server-selects-no-pod',
        severity: 'low',
        resources: [locate(server)],
        message: `Server ${namespace}/${name} selects no pod of namespace ${namespace} among the resources`,
        fix: 'fix spec.podSelector to match the labels of the workload it is meant for (or delete the Server if the workload is gone)',
      },
    ];
  }
  const port = server.port;
  if (typeof port === 'string' && !pods.some((p) => p.ports.some((cp) => cp.name === port && cp.protocol === 'TCP'))) {
    return [
      {
        code: 'server-port-name-not-found',
        severity: 'low',
        resources: [locate(server), ...pods.slice(0, 3).map(locate)],
        message: `Server ${namespace}/${name} names port "${port}", which none of the ${pods.length} pod(s) it selects declares as a TCP container port; it governs nothing`,
        fix: `use the container port's name (or its number) in spec.port`,
      },
    ];
  }
  return [];
}

/** One finding per set of colliding Servers and port, listing the pods where they collide. */
function conflictFindings(ctx: AuditContext): Finding[] {
  const groups = new Map<string, { port: number; winner: string; ignored: string[]; pods: string[] }>();
  for (const c of ctx.index.conflicts) {
    const id = `${c.port}|${c.server}|${c.ignored.join(',')}`;
    const g = groups.get(id) ?? { port: c.port, winner: c.server, ignored: c.ignored, pods: [] };
    g.pods.push(c.pod);
    groups.set(id, g);
  }
  return [...groups.values()].map((g) => {
    const servers = [g.winner, ...g.ignored];
    const resources: ResourceLocation[] = servers.map((key) => {
      const s = ctx.servers.get(key);
      return s ? locate(s) : { resource: `Server/${key}` };
    });
    const shown = g.pods.slice(0, 3).join(', ') + (g.pods.length > 3 ? ` and ${g.pods.length - 3} more` : '');
    return {
      code: 'server-port-conflict',
      severity: 'medium' as const,
      resources,
      message: `Servers ${servers.join(', ')} all select port ${g.port} of ${g.pods.length} pod(s) (${shown}); only Server ${g.winner} applies (oldest, then by name) and the others' authorizations do not`,
      fix: 'make exactly one Server select each pod port: narrow the podSelectors or ports, or merge the Servers',
    };
  });
}
