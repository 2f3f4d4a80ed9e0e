/**
 * Authorizations whose references lead nowhere. A missing Server, MeshTLSAuthentication or
 * NetworkAuthentication makes the policy void (it grants nothing, and the clients it was written
 * for are refused); a missing ServiceAccount or Namespace still stands for an identity, which
 * whoever creates that object later receives. ServiceAccounts are checked only in namespaces
 * whose ServiceAccounts were read, Namespaces only when some were read: an audit of policy files
 * alone must not call everything missing.
 */
import { describe, type AuthorizationPolicy, type MeshTLSAuthentication, type ServerAuthorization } from '../resources/types.ts';
import type { AuditContext } from './audit-context.ts';
import { locate, missing, type Finding } from './finding.ts';

type Owner = ServerAuthorization | AuthorizationPolicy | MeshTLSAuthentication;

export function checkReferences(ctx: AuditContext): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const add = (f: Finding) => {
    const id = `${f.code}|${f.resources.map((r) => r.resource).join('|')}`;
    if (seen.has(id)) return;
    seen.add(id);
    findings.push(f);
  };
  const saNamespaces = new Set([...ctx.serviceAccounts].map((k) => k.split('/')[0]!));
  const checkAccount = (owner: Owner, namespace: string, name: string) => {
    if (ctx.namespaces.size > 0 && !ctx.namespaces.has(namespace)) {
      add({
        code: 'missing-namespace',
        severity: 'low',
        resources: [locate(owner), missing('Namespace', '', namespace)],
        message: `${describe(owner)} refers to namespace ${namespace}, which is not among the resources: whatever is created there later is admitted`,
        fix: `correct the namespace in the reference, or remove the reference if the namespace is gone`,
      });
    } else if (name !== '*' && saNamespaces.has(namespace) && !ctx.serviceAccounts.has(`${namespace}/${name}`)) {
      add({
        code: 'missing-service-account',
        severity: 'low',
        resources: [locate(owner), missing('ServiceAccount', namespace, name)],
        message: `${describe(owner)} refers to ServiceAccount ${namespace}/${name}, which is not among the resources: its identity is still admitted, so whoever creates it gets the access`,
        fix: 'correct the ServiceAccount name, or remove the reference if the workload is gone',
      });
    }
  };
  const voidFinding = (ap: AuthorizationPolicy, kind: 'MeshTLSAuthentication' | 'NetworkAuthentication', namespace: string, name: string): Finding => ({
    code: kind === 'MeshTLSAuthentication' ? 'missing-mesh-tls-authentication' : 'missing-network-authentication',
    severity: 'medium',
    resources: [locate(ap), missing(kind, namespace, name)],
    message: `${describe(ap)} requires ${kind} ${namespace}/${name}, which does not exist: the policy is void and grants nothing`,
    fix: `create ${kind} ${namespace}/${name}, or correct the name (and namespace) in spec.requiredAuthenticationRefs`,
  });

  for (const saz of ctx.resources.serverAuthorizations) {
    const ns = saz.meta.namespace;
    const spec = saz.server;
    if ('name' in spec && !ctx.servers.has(`${ns}/${spec.name}`)) add(missingServer(saz, ns, spec.name));
    else if (!('name' in spec) && ctx.grants.get(saz)?.servers.length === 0) add(selectsNoServer(saz, 'its spec.server.selector matches no Server of the namespace'));
    if (saz.client.type === 'mesh-tls') for (const sa of saz.client.serviceAccounts) checkAccount(saz, sa.namespace, sa.name);
  }
  for (const ap of ctx.resources.authorizationPolicies) {
    const ns = ap.meta.namespace;
    const target = ap.target;
    if (target.kind === 'HTTPRoute' || target.kind === 'GRPCRoute') {
      add({
        code: 'route-authorization-not-enforced',
        severity: 'info',
        resources: [locate(ap)],
        message: `${describe(ap)} targets ${target.kind} ${ns}/${target.name}: route-level authorization is not enforced at the TCP level, so it grants nothing here`,
        fix: 'authorize the connection with a policy targeting the Server too (route policies apply once HTTP routing is supported)',
      });
    } else if (target.kind === 'Server' && !ctx.servers.has(`${ns}/${target.name}`)) {
      add(missingServer(ap, ns, target.name));
    } else if (target.kind === 'Namespace' && ctx.serversIn(ns).length === 0) {
      add(selectsNoServer(ap, `it targets namespace ${ns}, which has no Server`));
    }
    const id = ap.identityRef;
    if (id?.kind === 'MeshTLSAuthentication' && !ctx.meshTLS.has(`${id.namespace}/${id.name}`)) add(voidFinding(ap, id.kind, id.namespace, id.name));
    if (id?.kind === 'ServiceAccount') checkAccount(ap, id.namespace, id.name);
    const net = ap.networkRef;
    if (net && !ctx.networks.has(`${net.namespace}/${net.name}`)) add(voidFinding(ap, 'NetworkAuthentication', net.namespace, net.name));
  }
  for (const m of ctx.resources.meshTLSAuthentications) {
    for (const ref of m.identityRefs) {
      if (ref.kind === 'ServiceAccount') checkAccount(m, ref.namespace, ref.name);
      else if (ref.name !== '*') checkAccount(m, ref.name, '*');
    }
  }
  return findings;
}

function missingServer(owner: ServerAuthorization | AuthorizationPolicy, namespace: string, name: string): Finding {
  return {
    code: 'missing-server',
    severity: 'medium',
    resources: [locate(owner), missing('Server', namespace, name)],
    message: `${describe(owner)} targets Server ${namespace}/${name}, which does not exist: it grants nothing`,
    fix: `create Server ${namespace}/${name}, or correct the Server name in ${owner.kind === 'ServerAuthorization' ? 'spec.server.name' : 'spec.targetRef'}`,
  };
}

function selectsNoServer(owner: ServerAuthorization | AuthorizationPolicy, why: string): Finding {
  return {
    code: 'authorization-selects-no-server',
    severity: 'low',
    resources: [locate(owner)],
    message: `${describe(owner)} grants nothing: ${why}`,
    fix: 'point it at the Server it is meant for (labels or name), or delete it',
  };
}
