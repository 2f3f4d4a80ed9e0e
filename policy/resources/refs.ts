/**
 * Group/kind references, compared as Linkerd's controller compares them: an omitted or empty
 * group, or `core`, is the core group; group and kind compare without regard to case.
 * So a reference to a MeshTLSAuthentication without `group: policy.linkerd.io` names a
 * (non-existent) core kind, and the policy that holds it is invalid.
 */
import { DNS_LABEL, DNS_SUBDOMAIN, type FieldReader, type Obj } from './fields.ts';
import { POLICY_GROUP } from './types.ts';

export interface RawRef {
  group: string | undefined;
  kind: string;
  name: string | undefined;
  namespace: string | undefined;
}

const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function canonicalGroup(group: string | undefined): string {
  return !group || group.toLowerCase() === 'core' ? 'core' : group.toLowerCase();
}

export function targetsKind(ref: RawRef, group: string, kind: string): boolean {
  return canonicalGroup(ref.group) === canonicalGroup(group) && ref.kind.toLowerCase() === kind.toLowerCase();
}

/** `Kind.group` when a group is given, as Linkerd prints a reference's kind. */
export function canonicalKind(ref: RawRef): string {
  return ref.group ? `${ref.kind}.${ref.group}` : ref.kind;
}

/** The message for a kind Linkerd keeps in policy.linkerd.io, referenced without that group. */
export function missingGroupReason(ref: RawRef, kind: string, consequence: string): string | undefined {
  if (ref.kind.toLowerCase() !== kind.toLowerCase() || canonicalGroup(ref.group) === POLICY_GROUP) return undefined;
  const got = ref.group ? `group "${ref.group}"` : 'no group (the core group)';
  return `${kind} is in group ${POLICY_GROUP}, but the reference has ${got}; ${consequence}`;
}

/** Reads `{group, kind, name, namespace}`; `namespaced` says whether `namespace` may appear. */
export function readRef(r: FieldReader, obj: Obj, path: string, options: { namespaced: boolean; nameRequired: boolean; allowStar?: boolean }): RawRef | undefined {
  r.only(obj, path, options.namespaced ? ['group', 'kind', 'name', 'namespace'] : ['group', 'kind', 'name']);
  const group = r.string(obj, 'group', path, { pattern: GROUP, patternHint: 'an API group' });
  const kind = r.string(obj, 'kind', path, { required: true, pattern: KIND, patternHint: 'a kind' });
  const namePattern = options.allowStar ? /^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/ : DNS_SUBDOMAIN;
  const name = r.string(obj, 'name', path, { required: options.nameRequired, pattern: namePattern, patternHint: 'a resource name' });
  const namespace = options.namespaced ? r.string(obj, 'namespace', path, { pattern: DNS_LABEL, patternHint: 'a namespace name' }) : undefined;
  if (kind === undefined) return undefined;
  return { group, kind, name, namespace };
}
