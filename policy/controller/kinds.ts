/**
 * The eight collections the controller watches in every namespace, and how each is listed
 * through @kubernetes/client-node: the typed core API for Pods, Namespaces and ServiceAccounts,
 * the custom objects API for Linkerd's policy kinds, at the versions Linkerd's own controller reads.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { CallOptions } from '../../common/kube-client.ts';
import { POLICY_GROUP } from '../resources/types.ts';

/** An object as the API sends it; only what the cache needs is typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  [field: string]: unknown;
}

export interface ListChunk {
  items: KubeObject[];
  resourceVersion: string;
  /** The token for the next chunk; absent on the last. */
  continue?: string;
}

export interface WatchedKind {
  /** `pods`, `servers.policy.linkerd.io`: for logs and metric labels. */
  resource: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  /** The collection, in every namespace, for watches: `/api/v1/pods`. */
  path: string;
  list(chunk: { limit: number; continue?: string }, options: CallOptions): Promise<ListChunk>;
}

interface ListMeta {
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
  items: unknown[];
}

/**
 * Typed core objects carry Dates and drop what they do not model; a JSON round trip gives the
 * plain form the watch delivers (RFC 3339 times, no undefined fields), so both parse the same.
 */
function plain(list: ListMeta): ListChunk {
  const items = JSON.parse(JSON.stringify(list.items)) as KubeObject[];
  const meta = list.metadata ?? {};
  const next = meta._continue ?? meta.continue;
  return { items, resourceVersion: meta.resourceVersion ?? '', ...(next ? { continue: next } : {}) };
}

function coreKind(kind: string, plural: string, namespaced: boolean, list: (api: CoreV1Api, limit: number, cont: string | undefined, options: CallOptions) => Promise<ListMeta>): (kc: KubeConfig) => WatchedKind {
  return (kc) => {
    const api = kc.makeApiClient(CoreV1Api);
    return { resource: plural, kind, apiVersion: 'v1', namespaced, path: `/api/v1/${plural}`, list: async (c, options) => plain(await list(api, c.limit, c.continue, options)) };
  };
}

function policyKind(kind: string, plural: string, version: string): (kc: KubeConfig) => WatchedKind {
  return (kc) => {
    const api = kc.makeApiClient(CustomObjectsApi);
    return {
      resource: `${plural}.${POLICY_GROUP}`,
      kind,
      apiVersion: `${POLICY_GROUP}/${version}`,
      namespaced: true,
      path: `/apis/${POLICY_GROUP}/${version}/${plural}`,
      list: async (c, options) => {
        const list = (await api.listClusterCustomObject({ group: POLICY_GROUP, version, plural, limit: c.limit, ...(c.continue ? { _continue: c.continue } : {}) }, options)) as ListMeta;
        return plain(list);
      },
    };
  };
}

const KINDS = [
  coreKind('Namespace', 'namespaces', false, (api, limit, cont, o) => api.listNamespace({ limit, ...(cont ? { _continue: cont } : {}) }, o)),
  coreKind('Pod', 'pods', true, (api, limit, cont, o) => api.listPodForAllNamespaces({ limit, ...(cont ? { _continue: cont } : {}) }, o)),
  coreKind('ServiceAccount', 'serviceaccounts', true, (api, limit, cont, o) => api.listServiceAccountForAllNamespaces({ limit, ...(cont ? { _continue: cont } : {}) }, o)),
  policyKind('Server', 'servers', 'v1beta3'),
  policyKind('ServerAuthorization', 'serverauthorizations', 'v1beta1'),
  policyKind('AuthorizationPolicy', 'authorizationpolicies', 'v1alpha1'),
  policyKind('MeshTLSAuthentication', 'meshtlsauthentications', 'v1alpha1'),
  policyKind('NetworkAuthentication', 'networkauthentications', 'v1alpha1'),
];

export function watchedKinds(kubeConfig: KubeConfig): WatchedKind[] {
  return KINDS.map((make) => make(kubeConfig));
}

/** `NS/NAME`, or `NAME` for a cluster-scoped object; undefined for an object without a name. */
export function objectKey(obj: KubeObject): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}
