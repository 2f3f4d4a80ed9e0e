/**
 * Each authorization resource reduced, once, to networks plus an identity matcher. Where the
 * resources leave something unset, Linkerd's controller decides: a ServerAuthorization without
 * `networks` admits the cluster networks only; an AuthorizationPolicy without a
 * NetworkAuthentication admits every address, and without an identity reference admits clients
 * with no identity at all. A policy whose references are missing is void: it grants nothing.
 */
import { identityName } from '../../common/names.ts';
import { formatNetwork, type Network } from '../net/cidr.ts';
import type { AuthorizationPolicy, DefaultPolicyName, MeshTLSAuthentication, NetworkAuthentication, ResourceSet, ServerAuthorization } from '../resources/types.ts';
import { describe, keyOf } from '../resources/types.ts';
import { ANY_IDENTITY, compileIdentities } from './identity.ts';
import type { CompiledAuthorization, EvaluatorConfig, IdentityMatcher } from './types.ts';

export interface AuthorizationContext {
  config: EvaluatorConfig;
  meshTLS: ReadonlyMap<string, MeshTLSAuthentication>;
  networks: ReadonlyMap<string, NetworkAuthentication>;
}

export function authorizationContext(resources: ResourceSet, config: EvaluatorConfig): AuthorizationContext {
  return {
    config,
    meshTLS: new Map(resources.meshTLSAuthentications.map((m) => [keyOf(m.meta), m])),
    networks: new Map(resources.networkAuthentications.map((n) => [keyOf(n.meta), n])),
  };
}

function networksText(networks: readonly Network[] | null, cluster: boolean): string {
  if (networks === null) return 'every address';
  if (cluster) return 'the cluster networks';
  return networks.map(formatNetwork).join(' or ');
}

function saIdentity(name: string, namespace: string, ctx: AuthorizationContext): string {
  return identityName({ name, namespace }, ctx.config.domain);
}

/** `*.NS.serviceaccount.identity.CP.TD`: every ServiceAccount of a namespace (`*`: of every one). */
function namespacePattern(namespace: string, ctx: AuthorizationContext): string {
  const { controlPlaneNamespace, trustDomain } = ctx.config.domain;
  const tail = `serviceaccount.identity.${controlPlaneNamespace}.${trustDomain}`;
  return namespace === '*' ? `*.${tail}` : `*.${namespace}.${tail}`;
}

export function compileServerAuthorization(saz: ServerAuthorization, ctx: AuthorizationContext): CompiledAuthorization {
  const cluster = saz.networks === null;
  const networks = saz.networks ?? ctx.config.clusterNetworks;
  let identity: IdentityMatcher | null = null;
  if (saz.client.type === 'tls-unauthenticated') identity = { ...ANY_IDENTITY, text: 'any TLS client' };
  else if (saz.client.type === 'mesh-tls') {
    const sas = saz.client.serviceAccounts.map((sa) => saIdentity(sa.name, sa.namespace, ctx));
    identity = compileIdentities([...saz.client.identities, ...sas]);
  }
  return {
    ref: `ServerAuthorization/${keyOf(saz.meta)}`,
    label: describe(saz),
    networks,
    networksText: networksText(networks, cluster),
    identity,
  };
}

/** A compiled policy, or why it is void. */
export function compileAuthorizationPolicy(ap: AuthorizationPolicy, ctx: AuthorizationContext): CompiledAuthorization | { void: string } {
  let identity: IdentityMatcher | null = null;
  const ref = ap.identityRef;
  if (ref?.kind === 'ServiceAccount') {
    identity = compileIdentities([saIdentity(ref.name, ref.namespace, ctx)]);
  } else if (ref?.kind === 'MeshTLSAuthentication') {
    const authn = ctx.meshTLS.get(`${ref.namespace}/${ref.name}`);
    if (!authn) return { void: `MeshTLSAuthentication ${ref.namespace}/${ref.name} does not exist` };
    identity = compileIdentities(meshTLSPatterns(authn, ctx));
  }
  let networks: readonly Network[] | null = null;
  if (ap.networkRef) {
    const authn = ctx.networks.get(`${ap.networkRef.namespace}/${ap.networkRef.name}`);
    if (!authn) return { void: `NetworkAuthentication ${ap.networkRef.namespace}/${ap.networkRef.name} does not exist` };
    networks = authn.networks;
  }
  return { ref: `AuthorizationPolicy/${keyOf(ap.meta)}`, label: describe(ap), networks, networksText: networksText(networks, false), identity };
}

function meshTLSPatterns(authn: MeshTLSAuthentication, ctx: AuthorizationContext): string[] {
  const patterns = [...authn.identities];
  for (const ref of authn.identityRefs) {
    if (ref.kind === 'Namespace') patterns.push(namespacePattern(ref.name, ctx));
    else patterns.push(ref.name === '*' ? namespacePattern(ref.namespace, ctx) : saIdentity(ref.name, ref.namespace, ctx));
  }
  return patterns;
}

/**
 * The authorization a default policy (or a Server's accessPolicy) stands for, as Linkerd names
 * it (`default/all-authenticated`); null for `deny`, which admits no one, and for `audit`,
 * which the evaluator handles after every real authorization.
 */
export function compileDefaultPolicy(policy: DefaultPolicyName, config: EvaluatorConfig): CompiledAuthorization | null {
  if (policy === 'deny' || policy === 'audit') return null;
  const cluster = policy.startsWith('cluster-');
  const networks = cluster ? config.clusterNetworks : null;
  return {
    ref: `default/${policy}`,
    label: `default policy ${policy}`,
    networks,
    networksText: networksText(networks, cluster),
    identity: policy.endsWith('-authenticated') ? ANY_IDENTITY : null,
  };
}
