import { identityProblem, readNetworks } from './authentication.ts';
import { base, type ParseContext } from './context.ts';
import { at, DNS_LABEL, item } from './fields.ts';
import { canonicalKind, missingGroupReason, readRef, targetsKind, type RawRef } from './refs.ts';
import { readSelector } from './selector.ts';
import { POLICY_GROUP, type AuthenticationRef, type AuthorizationPolicy, type PolicyTarget, type ServerAuthorization, type ServerAuthorizationClient } from './types.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const VOID = 'the policy would grant nothing, so it is refused';

/** ServerAuthorization, policy.linkerd.io v1beta1 (legacy). */
export function parseServerAuthorization(ctx: ParseContext): ServerAuthorization | undefined {
  const { r, doc, meta } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  if (!spec) return undefined;
  r.only(spec, 'spec', ['server', 'client']);

  let server: ServerAuthorization['server'] | undefined;
  const serverObj = r.object(spec, 'server', 'spec', true);
  if (serverObj) {
    r.only(serverObj, 'spec.server', ['name', 'selector']);
    const name = r.string(serverObj, 'name', 'spec.server', { pattern: DNS_LABEL, patternHint: 'a Server name' });
    const selectorObj = r.object(serverObj, 'selector', 'spec.server');
    if (name !== undefined && selectorObj) r.fail('spec.server', 'set name or selector, not both');
    else if (name !== undefined) server = { name };
    else if (selectorObj) server = { selector: readSelector(r, selectorObj, 'spec.server.selector') };
    else r.fail('spec.server', 'set name or selector');
  }

  let client: ServerAuthorizationClient | undefined;
  let networks: ServerAuthorization['networks'] = null;
  const clientObj = r.object(spec, 'client', 'spec', true);
  if (clientObj) {
    r.only(clientObj, 'spec.client', ['networks', 'unauthenticated', 'meshTLS']);
    const nets = readNetworks(r, clientObj, 'networks', 'spec.client', false);
    if (nets && nets.length > 0) networks = nets;
    const unauthenticated = r.boolean(clientObj, 'unauthenticated', 'spec.client') === true;
    const mtls = r.object(clientObj, 'meshTLS', 'spec.client');
    if (mtls && unauthenticated) {
      r.fail('spec.client.unauthenticated', 'must be false when meshTLS is set');
    } else if (unauthenticated) {
      client = { type: 'unauthenticated' };
    } else if (mtls) {
      client = readMeshTLS(ctx, mtls, meta.namespace);
    } else {
      r.fail('spec.client', 'set unauthenticated: true or meshTLS (this authorization admits no client)');
    }
  }
  if (!server || !client) return undefined;
  return { ...base(ctx, 'ServerAuthorization'), server, networks, client };
}

function readMeshTLS({ r }: ParseContext, mtls: Record<string, unknown>, namespace: string): ServerAuthorizationClient | undefined {
  const path = 'spec.client.meshTLS';
  r.only(mtls, path, ['unauthenticatedTLS', 'identities', 'serviceAccounts']);
  const unauthenticatedTLS = r.boolean(mtls, 'unauthenticatedTLS', path) === true;
  const identities = r.strings(mtls, 'identities', path) ?? [];
  identities.forEach((id, i) => {
    const problem = identityProblem(id, false);
    if (problem) r.fail(item(at(path, 'identities'), i), problem);
  });
  const serviceAccounts: { name: string; namespace: string }[] = [];
  for (const { value, path: p } of r.objects(mtls, 'serviceAccounts', path) ?? []) {
    r.only(value, p, ['name', 'namespace']);
    const name = r.string(value, 'name', p, { required: true, pattern: DNS_LABEL, patternHint: 'a ServiceAccount name' });
    const ns = r.string(value, 'namespace', p, { pattern: DNS_LABEL, patternHint: 'a namespace name' });
    if (name !== undefined) serviceAccounts.push({ name, namespace: ns ?? namespace });
  }
  if (unauthenticatedTLS) {
    if (identities.length + serviceAccounts.length > 0) {
      return r.fail(at(path, 'unauthenticatedTLS'), 'must be false when identities or serviceAccounts are set');
    }
    return { type: 'tls-unauthenticated' };
  }
  if (identities.length + serviceAccounts.length === 0) {
    return r.fail(path, 'authorizes no clients (set identities, serviceAccounts or unauthenticatedTLS: true)');
  }
  return { type: 'mesh-tls', identities, serviceAccounts };
}

/** AuthorizationPolicy, policy.linkerd.io v1alpha1. */
export function parseAuthorizationPolicy(ctx: ParseContext): AuthorizationPolicy | undefined {
  const { r, doc, meta } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  if (!spec) return undefined;
  r.only(spec, 'spec', ['targetRef', 'requiredAuthenticationRefs']);

  let target: PolicyTarget | undefined;
  const targetObj = r.object(spec, 'targetRef', 'spec', true);
  const ref = targetObj ? readRef(r, targetObj, 'spec.targetRef', { namespaced: false, nameRequired: true }) : undefined;
  if (ref && ref.name !== undefined) target = readTarget(ctx, ref, ref.name);

  const refs = r.objects(spec, 'requiredAuthenticationRefs', 'spec');
  if (spec.requiredAuthenticationRefs == null) {
    r.fail('spec.requiredAuthenticationRefs', 'required (an empty list admits every client)');
  }
  const identityRefs: AuthenticationRef[] = [];
  const networkRefs: AuthenticationRef[] = [];
  for (const { value, path } of refs ?? []) {
    const raw = readRef(r, value, path, { namespaced: true, nameRequired: true });
    if (!raw || raw.name === undefined) continue;
    const resolved = { name: raw.name, namespace: raw.namespace ?? meta.namespace };
    if (targetsKind(raw, POLICY_GROUP, 'MeshTLSAuthentication')) identityRefs.push({ kind: 'MeshTLSAuthentication', ...resolved });
    else if (targetsKind(raw, 'core', 'ServiceAccount')) identityRefs.push({ kind: 'ServiceAccount', ...resolved });
    else if (targetsKind(raw, POLICY_GROUP, 'NetworkAuthentication')) networkRefs.push({ kind: 'NetworkAuthentication', ...resolved });
    else {
      const hint = missingGroupReason(raw, 'MeshTLSAuthentication', VOID) ?? missingGroupReason(raw, 'NetworkAuthentication', VOID);
      r.fail(at(path, hint ? 'group' : 'kind'), hint ?? `unsupported authentication kind ${canonicalKind(raw)}: must be a MeshTLSAuthentication, a NetworkAuthentication or a ServiceAccount`);
    }
  }
  if (identityRefs.length > 1) {
    const kinds = new Set(identityRefs.map((x) => x.kind));
    r.fail('spec.requiredAuthenticationRefs', kinds.size > 1
      ? 'a MeshTLSAuthentication and a ServiceAccount may not be set together (at most one identity reference)'
      : `only a single ${identityRefs[0]!.kind} may be set`);
  }
  if (networkRefs.length > 1) r.fail('spec.requiredAuthenticationRefs', 'only a single NetworkAuthentication may be set');
  if (!target || r.failed) return undefined;
  return { ...base(ctx, 'AuthorizationPolicy'), target, identityRef: identityRefs[0] ?? null, networkRef: networkRefs[0] ?? null };
}

function readTarget({ r, meta }: ParseContext, ref: RawRef, name: string): PolicyTarget | undefined {
  if (targetsKind(ref, POLICY_GROUP, 'Server')) return { kind: 'Server', name };
  if (targetsKind(ref, 'core', 'Namespace')) {
    if (name !== meta.namespace) {
      return r.fail('spec.targetRef.name', `cannot target another namespace ("${name}"); a policy covers the Servers of its own namespace ("${meta.namespace}")`);
    }
    return { kind: 'Namespace', name };
  }
  if (targetsKind(ref, POLICY_GROUP, 'HTTPRoute') || targetsKind(ref, GATEWAY_GROUP, 'HTTPRoute')) return { kind: 'HTTPRoute', group: ref.group!, name };
  if (targetsKind(ref, GATEWAY_GROUP, 'GRPCRoute')) return { kind: 'GRPCRoute', group: ref.group!, name };
  const hint = missingGroupReason(ref, 'Server', VOID);
  if (hint) return r.fail('spec.targetRef.group', hint);
  return r.fail('spec.targetRef.kind', `unsupported target kind ${canonicalKind(ref)}: must be a Server, a Namespace, an HTTPRoute or a GRPCRoute`);
}
