/**
 * Default inbound policies as set (the cluster's, and the annotations of namespaces and pods):
 * audit mode, unauthenticated defaults, and values Linkerd does not know (which silently mean
 * the cluster default). A pod carrying its namespace's value is not reported again: the
 * injector copies the namespace's annotation onto every pod.
 */
import { isDefaultPolicyName, keyOf, type DefaultPolicyName, type Namespace, type Pod } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, type Finding, type ResourceLocation } from './finding.ts';
import { ADMITS, ANNOTATION, isUnauthenticatedPolicy } from './policy-words.ts';

export function checkDefaults(ctx: AuditContext): Finding[] {
  const cluster = ctx.config.defaultPolicy;
  const findings = policyFindings(cluster, 'the cluster default inbound policy (--default-policy)', [], 'proxy.defaultInboundPolicy at install');
  const nsValue = new Map<string, string | undefined>();
  for (const ns of ctx.resources.namespaces) {
    const value = ns.meta.annotations[ANNOTATION];
    nsValue.set(ns.meta.name, value);
    if (value !== undefined) findings.push(...annotationFindings(ns, value, cluster));
  }
  for (const pod of ctx.resources.pods) {
    const value = pod.meta.annotations[ANNOTATION];
    if (value === undefined || value === nsValue.get(pod.meta.namespace)) continue;
    findings.push(...annotationFindings(pod, value, cluster));
  }
  return findings;
}

function annotationFindings(resource: Namespace | Pod, value: string, cluster: DefaultPolicyName): Finding[] {
  const what = `${resource.kind} ${keyOf(resource.meta)}`;
  if (!isDefaultPolicyName(value)) {
    return [
      {
        code: 'invalid-default-policy-annotation',
        severity: 'low',
        resources: [locate(resource)],
        message: `${what}: ${ANNOTATION} "${value}" is not a policy; Linkerd ignores it and the cluster default ${cluster} applies`,
        fix: `set it to one of all-unauthenticated, all-authenticated, cluster-unauthenticated, cluster-authenticated, deny, audit (or remove it)`,
      },
    ];
  }
  return policyFindings(value, `the default inbound policy of ${what} (${ANNOTATION})`, [locate(resource)], `the ${ANNOTATION} annotation`);
}

function policyFindings(policy: DefaultPolicyName, what: string, resources: ResourceLocation[], setting: string): Finding[] {
  if (policy === 'audit') {
    return [
      {
        code: 'default-policy-audit',
        severity: 'medium',
        resources,
        message: `${what} is audit: it ${ADMITS.audit} (a dry run, not enforcement)`,
        fix: `check with \`identity audit --decisions\` that enforcing would refuse nothing wanted, then set ${setting} to deny (or a *-authenticated policy)`,
      },
    ];
  }
  if (isUnauthenticatedPolicy(policy)) {
    return [
      {
        code: 'default-policy-unauthenticated',
        // Per-port exposure is rated by port-without-server; this is the setting behind it.
        severity: policy === 'all-unauthenticated' ? 'medium' : 'low',
        resources,
        message: `${what} is ${policy}: any port without a Server ${ADMITS[policy]}`,
        fix: `set ${setting} to cluster-authenticated, all-authenticated or deny, after giving the ports plaintext clients need a Server and an authorization`,
      },
    ];
  }
  return [];
}
