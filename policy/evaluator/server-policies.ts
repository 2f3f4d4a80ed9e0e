/**
 * Per Server, once: every authorization that targets it (a ServerAuthorization naming or
 * selecting it, an AuthorizationPolicy targeting it or its namespace), compiled, plus what
 * its accessPolicy admits. Void and route-level policies become notes, never grants.
 */
import { describe, keyOf, type DefaultPolicyName, type ResourceSet, type Server } from '../resources/types.ts';
import { selectorMatches } from '../resources/selector.ts';
import { compileAuthorizationPolicy, compileDefaultPolicy, compileServerAuthorization, type AuthorizationContext } from './authorizations.ts';
import type { NamespaceInputs } from './namespaces.ts';
import { formatAuthorizationRef, type PortAuthorization, type PortGovernor } from './port-policy.ts';

export interface ServerPolicy {
  /** `NS/NAME` */
  key: string;
  server: Server;
  governor: PortGovernor;
  /** Sorted by reference, so that the first admitting one is stable. */
  authorizations: PortAuthorization[];
  accessPolicy: DefaultPolicyName;
  /** What the accessPolicy admits; null for deny and audit. */
  access: PortAuthorization | null;
  /** `authorizations`, then `access`: what a port policy lists. */
  portAuthorizations: readonly PortAuthorization[];
  /** Void policies that target this Server: `AuthorizationPolicy demo/x (...)`, or ''. */
  voidText: string;
}

/** The Server policies of one namespace. */
export function buildServerPolicies(inputs: NamespaceInputs, ctx: AuthorizationContext, notes: string[]): ServerPolicy[] {
  const ns = inputs.namespace;
  const byName = new Map<string, ServerPolicy>();
  const voids = new Map<ServerPolicy, string[]>();
  const all = inputs.servers.map((server) => {
    const key = keyOf(server.meta);
    const policy: ServerPolicy = {
      key,
      server,
      governor: { kind: 'server', server: key },
      authorizations: [],
      accessPolicy: server.accessPolicy,
      access: compileDefaultPolicy(server.accessPolicy, ctx.config),
      portAuthorizations: [],
      voidText: '',
    };
    byName.set(server.meta.name, policy);
    return policy;
  });

  for (const ap of inputs.authorizationPolicies) {
    const target = ap.target;
    if (target.kind === 'HTTPRoute' || target.kind === 'GRPCRoute') {
      notes.push(`${describe(ap)} targets ${target.kind} ${ns}/${target.name}: route-level authorization is not enforced at the TCP level, so it is ignored here`);
      continue;
    }
    let targets: ServerPolicy[] = all;
    if (target.kind === 'Server') {
      const policy = byName.get(target.name);
      if (!policy) notes.push(`${describe(ap)} targets Server ${ns}/${target.name}, which does not exist; it grants nothing`);
      targets = policy ? [policy] : [];
    }
    const compiled = compileAuthorizationPolicy(ap, ctx);
    if ('void' in compiled) {
      notes.push(`${describe(ap)} is void: ${compiled.void}; it grants nothing`);
      for (const t of targets) voids.set(t, [...(voids.get(t) ?? []), `${describe(ap)} (${compiled.void})`]);
      continue;
    }
    for (const t of targets) t.authorizations.push(compiled);
  }

  for (const saz of inputs.serverAuthorizations) {
    const compiled = compileServerAuthorization(saz, ctx);
    const spec = saz.server;
    if ('name' in spec) {
      const policy = byName.get(spec.name);
      if (policy) policy.authorizations.push(compiled);
      else notes.push(`${describe(saz)} names Server ${ns}/${spec.name}, which does not exist; it grants nothing`);
    } else {
      for (const policy of all) if (selectorMatches(spec.selector, policy.server.meta.labels)) policy.authorizations.push(compiled);
    }
  }

  for (const policy of all) {
    const refs = new Map(policy.authorizations.map((a) => [a, formatAuthorizationRef(a.ref)]));
    policy.authorizations.sort((a, b) => (refs.get(a)! < refs.get(b)! ? -1 : refs.get(a)! > refs.get(b)! ? 1 : 0));
    policy.portAuthorizations = policy.access ? [...policy.authorizations, policy.access] : policy.authorizations;
    const v = voids.get(policy);
    if (v) policy.voidText = v.join(', ');
  }
  return all;
}

/** The Server that wins a port: the oldest by creationTimestamp (missing counts as newest), then by name. */
export function serverPrecedence(a: Server, b: Server): number {
  const ta = a.meta.creationTimestamp ?? Number.POSITIVE_INFINITY;
  const tb = b.meta.creationTimestamp ?? Number.POSITIVE_INFINITY;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0;
}

/** Notes for ServiceAccount references that name no loaded ServiceAccount (only when some were loaded). */
export function serviceAccountNotes(resources: ResourceSet): string[] {
  if (resources.serviceAccounts.length === 0) return [];
  const known = new Set(resources.serviceAccounts.map((sa) => keyOf(sa.meta)));
  const notes: string[] = [];
  const check = (owner: string, namespace: string, name: string) => {
    if (name !== '*' && !known.has(`${namespace}/${name}`)) {
      notes.push(`${owner} refers to ServiceAccount ${namespace}/${name}, which is not among the resources (its identity is still admitted)`);
    }
  };
  for (const ap of resources.authorizationPolicies) {
    if (ap.identityRef?.kind === 'ServiceAccount') check(describe(ap), ap.identityRef.namespace, ap.identityRef.name);
  }
  for (const saz of resources.serverAuthorizations) {
    if (saz.client.type === 'mesh-tls') for (const sa of saz.client.serviceAccounts) check(describe(saz), sa.namespace, sa.name);
  }
  for (const m of resources.meshTLSAuthentications) {
    for (const ref of m.identityRefs) if (ref.kind === 'ServiceAccount') check(describe(m), ref.namespace, ref.name);
  }
  return notes;
}
