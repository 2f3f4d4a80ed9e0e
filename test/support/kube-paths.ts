import { Kinds, resourceOf, type Resource } from './kube-types.ts';

/** A request path, understood as kube-apiserver's REST mapper understands it. */
export interface Target {
  resource: Resource;
  version: string;
  namespace?: string;
  name?: string;
  /** The deprecated `/watch/` path form. */
  legacyWatch: boolean;
}

/**
 * `/api/v1[/watch][/namespaces/NS]/RESOURCE[/NAME]`, `/api/v1[/watch]/namespaces[/NAME]` and
 * `/apis/GROUP/VERSION[/watch][/namespaces/NS]/RESOURCE[/NAME]`; undefined for anything this
 * server does not serve (other groups, unserved versions, subresources), which is a 404.
 */
export function parsePath(pathname: string): Target | undefined {
  const segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    [group, version, rest] = ['', 'v1', segments.slice(2)];
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    [group, version, rest] = [segments[1]!, segments[2]!, segments.slice(3)];
  } else {
    return undefined;
  }
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, ...extra] = rest;
  if (plural === undefined || extra.length > 0) return undefined;
  const resource = resourceOf(group, plural);
  if (!resource || !Kinds[resource].versions.includes(version)) return undefined;
  const { namespaced } = Kinds[resource];
  if (namespaced && name !== undefined && namespace === undefined) return undefined;
  if (!namespaced && namespace !== undefined) return undefined;
  const target: Target = { resource, version, legacyWatch };
  if (namespace !== undefined) target.namespace = namespace;
  if (name !== undefined) target.name = name;
  return target;
}
