/**
 * The index is built namespace by namespace, as Linkerd's controller reindexes: a namespace's
 * decisions depend only on its own Servers, authorizations, pods and Namespace object, plus the
 * authentications its policies refer to (in any namespace). When all of those are the very same
 * objects as in the previous index, that namespace's part is reused as it is.
 */
import type { AuthorizationPolicy, Namespace, Pod, ResourceSet, Server, ServerAuthorization } from '../resources/types.ts';
import type { AuthorizationContext } from './authorizations.ts';
import { buildPodEntries, type PodEntry } from './pod-ports.ts';
import { buildServerPolicies } from './server-policies.ts';
import type { PortConflict } from './types.ts';

export interface NamespaceInputs {
  namespace: string;
  object: Namespace | undefined;
  servers: Server[];
  serverAuthorizations: ServerAuthorization[];
  authorizationPolicies: AuthorizationPolicy[];
  pods: Pod[];
}

export interface NamespaceBuild {
  /** The objects this part was computed from, compared by identity. */
  dependencies: readonly unknown[];
  pods: PodEntry[];
  conflicts: PortConflict[];
  notes: string[];
}

export function groupByNamespace(resources: ResourceSet): Map<string, NamespaceInputs> {
  const groups = new Map<string, NamespaceInputs>();
  const group = (namespace: string): NamespaceInputs => {
    let g = groups.get(namespace);
    if (!g) groups.set(namespace, (g = { namespace, object: undefined, servers: [], serverAuthorizations: [], authorizationPolicies: [], pods: [] }));
    return g;
  };
  for (const ns of resources.namespaces) group(ns.meta.name).object = ns;
  for (const s of resources.servers) group(s.meta.namespace).servers.push(s);
  for (const s of resources.serverAuthorizations) group(s.meta.namespace).serverAuthorizations.push(s);
  for (const a of resources.authorizationPolicies) group(a.meta.namespace).authorizationPolicies.push(a);
  for (const p of resources.pods) group(p.meta.namespace).pods.push(p);
  return groups;
}

export function dependencies(inputs: NamespaceInputs, ctx: AuthorizationContext): unknown[] {
  const deps: unknown[] = [inputs.object, ...inputs.servers, ...inputs.serverAuthorizations, ...inputs.authorizationPolicies, ...inputs.pods];
  for (const ap of inputs.authorizationPolicies) {
    if (ap.identityRef?.kind === 'MeshTLSAuthentication') deps.push(ctx.meshTLS.get(`${ap.identityRef.namespace}/${ap.identityRef.name}`));
    if (ap.networkRef) deps.push(ctx.networks.get(`${ap.networkRef.namespace}/${ap.networkRef.name}`));
  }
  return deps;
}

export function sameDependencies(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function buildNamespace(inputs: NamespaceInputs, deps: readonly unknown[], ctx: AuthorizationContext): NamespaceBuild {
  const notes: string[] = [];
  const servers = buildServerPolicies(inputs, ctx, notes);
  const { pods, conflicts } = buildPodEntries(inputs, servers, ctx.config, notes);
  return { dependencies: deps, pods, conflicts, notes };
}
