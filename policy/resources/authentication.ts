import { cidrCovers, parseCidr, type Cidr, type Network } from '../net/cidr.ts';
import { base, type ParseContext } from './context.ts';
import { at, item, type FieldReader, type Obj } from './fields.ts';
import { canonicalKind, readRef, targetsKind } from './refs.ts';
import type { IdentityRef, MeshTLSAuthentication, NetworkAuthentication } from './types.ts';

/** DNS-like identities, `*` and `*.suffix` (the pattern of Linkerd's CRDs). */
export const DNS_IDENTITY = /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `id` is not a valid identity (DNS-like or SPIFFE), or undefined if it is one. */
export function identityProblem(id: string, allowSpiffe: boolean): string | undefined {
  if (id.startsWith('spiffe://')) {
    if (!allowSpiffe) return `"${id}" is a SPIFFE ID; this field takes DNS-like identities only`;
    const rest = id.slice('spiffe://'.length);
    const slash = rest.indexOf('/');
    const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
    if (!/^[a-z0-9._-]+$/.test(trustDomain)) return `"${id}" has no valid SPIFFE trust domain (lowercase letters, digits, . _ -)`;
    if (slash >= 0 && !rest.slice(slash + 1).split('/').every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..')) {
      return `"${id}" has an invalid SPIFFE path (empty, dot or bad segments, or a trailing slash)`;
    }
    return undefined;
  }
  if (!DNS_IDENTITY.test(id)) return `"${id.slice(0, 100)}" is not an identity (a DNS-like name, "*", "*.suffix"${allowSpiffe ? ' or a SPIFFE ID' : ''})`;
  return undefined;
}

function readCidr(r: FieldReader, value: unknown, field: string): Cidr | undefined {
  const text = r.stringValue(value, field, { required: true });
  if (text === undefined) return undefined;
  return parseCidr(text) ?? r.fail(field, `"${text.slice(0, 60)}" is not a CIDR block or an IP address`);
}

/** `networks: [{cidr, except: [...]}]`, validated as Linkerd's admission webhook does. */
export function readNetworks(r: FieldReader, obj: Obj, key: string, path: string, required: boolean): Network[] | undefined {
  const entries = r.objects(obj, key, path, required);
  if (!entries) return undefined;
  const networks: Network[] = [];
  for (const { value, path: p } of entries) {
    r.only(value, p, ['cidr', 'except']);
    const cidr = readCidr(r, value.cidr, at(p, 'cidr'));
    const except: Cidr[] = [];
    (r.list(value, 'except', p) ?? []).forEach((e, i) => {
      const field = item(at(p, 'except'), i);
      const ex = readCidr(r, e, field);
      if (!ex || !cidr) return;
      if (cidrCovers(ex, cidr)) r.fail(field, `${ex.text} removes all of ${cidr.text}`);
      else if (!cidrCovers(cidr, ex)) r.fail(field, `${ex.text} is not inside ${cidr.text}`);
      else except.push(ex);
    });
    if (cidr) networks.push({ cidr, except });
  }
  return networks;
}

export function parseMeshTLSAuthentication(ctx: ParseContext): MeshTLSAuthentication | undefined {
  const { r, doc, meta } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  if (!spec) return undefined;
  r.only(spec, 'spec', ['identities', 'identityRefs']);
  const identities = r.strings(spec, 'identities', 'spec') ?? [];
  identities.forEach((id, i) => {
    const problem = identityProblem(id, true);
    if (problem) r.fail(item('spec.identities', i), problem);
  });
  const identityRefs: IdentityRef[] = [];
  for (const { value, path } of r.objects(spec, 'identityRefs', 'spec') ?? []) {
    const ref = readRef(r, value, path, { namespaced: true, nameRequired: true, allowStar: true });
    if (!ref || ref.name === undefined) continue;
    if (targetsKind(ref, 'core', 'ServiceAccount')) {
      identityRefs.push({ kind: 'ServiceAccount', name: ref.name, namespace: ref.namespace ?? meta.namespace });
    } else if (targetsKind(ref, 'core', 'Namespace')) {
      if (ref.namespace !== undefined) r.fail(at(path, 'namespace'), 'a Namespace reference is cluster-scoped and takes no namespace');
      else identityRefs.push({ kind: 'Namespace', name: ref.name });
    } else {
      r.fail(at(path, 'kind'), `unsupported identity reference kind ${canonicalKind(ref)}: must be a ServiceAccount or a Namespace (core group)`);
    }
  }
  if (spec.identities != null && spec.identityRefs != null) {
    r.fail('spec', 'set identities or identityRefs, not both');
  } else if (identities.length === 0 && identityRefs.length === 0 && !r.failed) {
    r.fail('spec.identities', 'no identities configured (set identities or identityRefs)');
  }
  return { ...base(ctx, 'MeshTLSAuthentication'), identities, identityRefs };
}

export function parseNetworkAuthentication(ctx: ParseContext): NetworkAuthentication | undefined {
  const { r, doc } = ctx;
  const spec = r.object(doc, 'spec', '', true);
  if (!spec) return undefined;
  r.only(spec, 'spec', ['networks']);
  const networks = readNetworks(r, spec, 'networks', 'spec', true);
  if (networks && networks.length === 0 && Array.isArray(spec.networks) && spec.networks.length === 0) {
    r.fail('spec.networks', 'at least one network must be specified');
  }
  return networks ? { ...base(ctx, 'NetworkAuthentication'), networks } : undefined;
}
