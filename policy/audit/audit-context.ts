/**
 * What every check needs, computed once from the resources: lookups by name, and which Servers
 * each authorization actually grants on. The grants follow Linkerd's controller (as the
 * evaluator does): a ServerAuthorization names or selects Servers of its namespace; an
 * AuthorizationPolicy targets one Server or every Server of its namespace; a policy whose
 * MeshTLSAuthentication or NetworkAuthentication is missing is void and grants nothing; route
 * targets are not enforced at the TCP level.
 */
import type { PolicyIndex } from '../evaluator/policy-index.ts';
import type { EvaluatorConfig } from '../evaluator/types.ts';
import { selectorMatches } from '../resources/selector.ts';
import {
  keyOf,
  type AuthorizationPolicy,
  type MeshTLSAuthentication,
  type Namespace,
  type NetworkAuthentication,
  type Pod,
  type ResourceSet,
  type Server,
  type ServerAuthorization,
} from '../resources/types.ts';

export type Authorization = ServerAuthorization | AuthorizationPolicy;

export interface AuthorizationGrant {
  /** The Servers it grants access to (empty when it grants nothing). */
  servers: Server[];
  /** Why it is void (grants nothing although it targets Servers), or null. */
  voidReason: string | null;
  /** It targets an HTTPRoute or GRPCRoute: not enforced at the TCP level. */
  routeLevel: boolean;
}

export interface AuditContext {
  resources: ResourceSet;
  config: EvaluatorConfig;
  index: PolicyIndex;
  /** `NS/NAME` -> Server */
  servers: ReadonlyMap<string, Server>;
  serversIn(namespace: string): readonly Server[];
  podsIn(namespace: string): readonly Pod[];
  /** The Namespace object of that name, if it was read. */
  namespaceObject(name: string): Namespace | undefined;
  meshTLS: ReadonlyMap<string, MeshTLSAuthentication>;
  networks: ReadonlyMap<string, NetworkAuthentication>;
  /** Names of the Namespace objects read; reference checks run only when there is at least one. */
  namespaces: ReadonlySet<string>;
  /** `NS/NAME` of the ServiceAccounts read; reference checks run only when there is at least one. */
  serviceAccounts: ReadonlySet<string>;
  grants: ReadonlyMap<Authorization, AuthorizationGrant>;
  /** The authorizations that grant access to each Server (void ones excluded). */
  grantsOn(server: Server): readonly Authorization[];
}

export function auditContext(resources: ResourceSet, config: EvaluatorConfig, index: PolicyIndex): AuditContext {
  const servers = new Map(resources.servers.map((s) => [keyOf(s.meta), s]));
  const serversIn = groupBy(resources.servers);
  const podsIn = groupBy(resources.pods);
  const namespaceObjects = new Map(resources.namespaces.map((n) => [n.meta.name, n]));
  const meshTLS = new Map(resources.meshTLSAuthentications.map((m) => [keyOf(m.meta), m]));
  const networks = new Map(resources.networkAuthentications.map((n) => [keyOf(n.meta), n]));

  const grants = new Map<Authorization, AuthorizationGrant>();
  const onServer = new Map<Server, Authorization[]>();
  const record = (authz: Authorization, grant: AuthorizationGrant) => {
    grants.set(authz, grant);
    if (grant.voidReason !== null) return;
    for (const s of grant.servers) onServer.set(s, [...(onServer.get(s) ?? []), authz]);
  };
  for (const saz of resources.serverAuthorizations) {
    const ns = saz.meta.namespace;
    const spec = saz.server;
    const targets = 'name' in spec ? [servers.get(`${ns}/${spec.name}`)].filter((s) => s !== undefined) : serversIn(ns).filter((s) => selectorMatches(spec.selector, s.meta.labels));
    record(saz, { servers: targets, voidReason: null, routeLevel: false });
  }
  for (const ap of resources.authorizationPolicies) {
    const ns = ap.meta.namespace;
    const target = ap.target;
    if (target.kind === 'HTTPRoute' || target.kind === 'GRPCRoute') {
      record(ap, { servers: [], voidReason: null, routeLevel: true });
      continue;
    }
    const targets = target.kind === 'Server' ? [servers.get(`${ns}/${target.name}`)].filter((s) => s !== undefined) : [...serversIn(ns)];
    record(ap, { servers: targets, voidReason: voidReasonOf(ap, meshTLS, networks), routeLevel: false });
  }

  return {
    resources,
    config,
    index,
    servers,
    serversIn,
    podsIn,
    namespaceObject: (name) => namespaceObjects.get(name),
    meshTLS,
    networks,
    namespaces: new Set(namespaceObjects.keys()),
    serviceAccounts: new Set(resources.serviceAccounts.map((s) => keyOf(s.meta))),
    grants,
    grantsOn: (server) => onServer.get(server) ?? [],
  };
}

function voidReasonOf(ap: AuthorizationPolicy, meshTLS: ReadonlyMap<string, unknown>, networks: ReadonlyMap<string, unknown>): string | null {
  const id = ap.identityRef;
  if (id?.kind === 'MeshTLSAuthentication' && !meshTLS.has(`${id.namespace}/${id.name}`)) return `MeshTLSAuthentication ${id.namespace}/${id.name} does not exist`;
  const net = ap.networkRef;
  if (net && !networks.has(`${net.namespace}/${net.name}`)) return `NetworkAuthentication ${net.namespace}/${net.name} does not exist`;
  return null;
}

function groupBy<T extends { meta: { namespace: string } }>(items: readonly T[]): (namespace: string) => readonly T[] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.meta.namespace);
    if (list) list.push(item);
    else groups.set(item.meta.namespace, [item]);
  }
  return (namespace) => groups.get(namespace) ?? [];
}
