/**
 * Each authorization resource reduced, once, to networks plus an identity matcher. Where the
 * resources leave something unset, Linkerd's controller decides: a ServerAuthorization without
 * `networks` admits the cluster networks only; an AuthorizationPolicy without a
 * NetworkAuthentication admits every address, and without an identity reference admits clients
 * with no identity at all. A policy whose references are missing is void: it grants nothing.
 */
import { identityName } from '../../common/names.ts';
import type { Network } from '../net/cidr.ts';
import type { AuthorizationPolicy, DefaultPolicyName, MeshTLSAuthentication, NetworkAuthentication, ResourceSet, ServerAuthorization } from '../resources/types.ts';
import { keyOf } from '../resources/types.ts';
import { compileIdentities, meshTlsAuthentication } from './identity.ts';
import type { PortAuthentication, PortAuthorization } from './port-policy.ts';
import type { EvaluatorConfig } from './types.ts';

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

function saIdentity(name: string, namespace: string, ctx: AuthorizationContext): string {
  return identityName({ name, namespace }, ctx.config.domain);
}

/** `*.NS.serviceaccount.identity.CP.TD`: every ServiceAccount of a namespace (`*`: of every one). */
function namespacePattern(namespace: string, ctx: AuthorizationContext): string {
  const { controlPlaneNamespace, trustDomain } = ctx.config.domain;
  const tail = `serviceaccount.identity.${controlPlaneNamespace}.${trustDomain}`;
  return namespace === '*' ? `*.${tail}` : `*.${namespace}.${tail}`;
}

const UNAUTHENTICATED: PortAuthentication = { kind: 'unauthenticated' };
const TLS_UNAUTHENTICATED: PortAuthentication = { kind: 'tls-unauthenticated' };
const ANY_MESH_IDENTITY: PortAuthentication = meshTlsAuthentication(compileIdentities(['*']));

export function compileServerAuthorization(saz: ServerAuthorization, ctx: AuthorizationContext): PortAuthorization {
  let authentication = UNAUTHENTICATED;
  if (saz.client.type === 'tls-unauthenticated') authentication = TLS_UNAUTHENTICATED;
  else if (saz.client.type === 'mesh-tls') {
    const sas = saz.client.serviceAccounts.map((sa) => saIdentity(sa.name, sa.namespace, ctx));
    authentication = meshTlsAuthentication(compileIdentities([...saz.client.identities, ...sas]));
  }
  return {
    ref: { kind: 'ServerAuthorization', namespace: saz.meta.namespace, name: saz.meta.name },
    networks: saz.networks ?? ctx.config.clusterNetworks,
    clusterNetworks: saz.networks === null,
    authentication,
  };
}

/** A compiled policy, or why it is void. */
export function compileAuthorizationPolicy(ap: AuthorizationPolicy, ctx: AuthorizationContext): PortAuthorization | { void: string } {
  let authentication = UNAUTHENTICATED;
  const ref = ap.identityRef;
  if (ref?.kind === 'ServiceAccount') {
    authentication = meshTlsAuthentication(compileIdentities([saIdentity(ref.name, ref.namespace, ctx)]));
  } else if (ref?.kind === 'MeshTLSAuthentication') {
    const authn = ctx.meshTLS.get(`${ref.namespace}/${ref.name}`);
    if (!authn) return { void: `MeshTLSAuthentication ${ref.namespace}/${ref.name} does not exist` };
    authentication = meshTlsAuthentication(compileIdentities(meshTLSPatterns(authn, ctx)));
  }
  let networks: readonly Network[] | null = null;
  if (ap.networkRef) {
    const authn = ctx.networks.get(`${ap.networkRef.namespace}/${ap.networkRef.name}`);
    if (!authn) return { void: `NetworkAuthentication ${ap.networkRef.namespace}/${ap.networkRef.name} does not exist` };
    networks = authn.networks;
  }
  return { ref: { kind: 'AuthorizationPolicy', namespace: ap.meta.namespace, name: ap.meta.name }, networks, clusterNetworks: false, authentication };
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
export function compileDefaultPolicy(policy: DefaultPolicyName, config: EvaluatorConfig): PortAuthorization | null {
  if (policy === 'deny' || policy === 'audit') return null;
  const cluster = policy.startsWith('cluster-');
  return {
    ref: { kind: 'default', name: policy },
    networks: cluster ? config.clusterNetworks : null,
    clusterNetworks: cluster,
    authentication: policy.endsWith('-authenticated') ? ANY_MESH_IDENTITY : UNAUTHENTICATED,
  };
}
