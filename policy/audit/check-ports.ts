/**
 * Pod ports that no Server selects: the default policy decides them, and nobody wrote a rule
 * for them. Which Server (if any) governs a port is the evaluator's answer, not ours, so that
 * named ports, selectors and conflicts are resolved exactly as connections are decided.
 */
import { isDefaultPolicyName, keyOf, type Pod } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, type Finding } from './finding.ts';
import { ADMITS, ANNOTATION, EXPOSURE } from './policy-words.ts';

/** Any address will do: which Server governs a port does not depend on the client. */
const PROBE_IP = '192.0.2.1';

export function checkPorts(ctx: AuditContext): Finding[] {
  const { pods } = ctx.resources;
  if (pods.length === 0) {
    return [
      {
        code: 'pods-not-provided',
        severity: 'info',
        resources: [],
        message: 'no Pods among the resources: ports without a Server, and Servers that select no pod, were not checked',
        fix: 'add the pods to --resources (for example `kubectl get pods -A -o yaml > pods.yaml`)',
      },
    ];
  }
  const findings: Finding[] = [];
  for (const pod of pods) {
    const key = keyOf(pod.meta);
    const seen = new Set<number>();
    for (const p of pod.ports) {
      // The proxy sees TCP only; a port declared twice (two containers, one name) is one port.
      if (p.protocol !== 'TCP' || seen.has(p.containerPort)) continue;
      seen.add(p.containerPort);
      const decision = ctx.index.evaluate({ pod: key, port: p.containerPort, clientIp: PROBE_IP });
      if (decision.server !== null || decision.defaultPolicy === undefined) continue;
      const policy = decision.defaultPolicy;
      const port = p.name ? `${p.containerPort} (${p.name})` : String(p.containerPort);
      findings.push({
        code: 'port-without-server',
        severity: EXPOSURE[policy],
        resources: [locate(pod)],
        message: `port ${port} of Pod ${key} has no Server: the default policy ${policy} (${defaultPolicyOrigin(pod, ctx)}) ${ADMITS[policy]}`,
        fix: fixFor(policy, p.name ?? String(p.containerPort)),
      });
    }
  }
  return findings;
}

function fixFor(policy: string, port: string): string {
  const server = `create a Server for port ${port} selecting this pod's labels, with an AuthorizationPolicy for the clients that need it`;
  if (policy === 'deny') return `if the port serves clients, ${server}; otherwise nothing to do`;
  if (policy === 'audit') return `${server}, then set ${ANNOTATION} to deny`;
  return `${server}; or set ${ANNOTATION} to a stricter policy (deny, or cluster-authenticated) on the pod or its namespace`;
}

/** Where a pod's default policy comes from, for messages (the evaluator decides which one applies). */
export function defaultPolicyOrigin(pod: Pod, ctx: AuditContext): string {
  const own = pod.meta.annotations[ANNOTATION];
  if (own !== undefined) return isDefaultPolicyName(own) ? 'pod annotation' : 'cluster default; the pod annotation is invalid';
  const value = ctx.namespaceObject(pod.meta.namespace)?.meta.annotations[ANNOTATION];
  if (value === undefined) return 'cluster default';
  return isDefaultPolicyName(value) ? 'namespace annotation' : 'cluster default; the namespace annotation is invalid';
}
