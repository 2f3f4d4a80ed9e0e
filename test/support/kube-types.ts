/**
 * The resources the test API server serves, described as kube-apiserver's registry (and, for the
 * Linkerd policy kinds, their CustomResourceDefinitions) describes them: group, served versions,
 * kind, list kind, scope, the field selectors the type supports, and what DELETE answers.
 */

export type CoreResource = 'secrets' | 'configmaps' | 'pods' | 'serviceaccounts' | 'namespaces';
export type PolicyResource = 'servers' | 'serverauthorizations' | 'authorizationpolicies' | 'meshtlsauthentications' | 'networkauthentications';
export type Resource = CoreResource | PolicyResource;

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  /** Served versions, oldest first; custom resources convert with strategy None (only apiVersion changes). */
  versions: readonly string[];
  kind: string;
  listKind: string;
  namespaced: boolean;
  /** Field selector labels (`metadata.name` and `metadata.namespace` are always supported). */
  fieldLabels: readonly string[];
  /**
   * DELETE answers with the object when the kind's registry says `ReturnDeletedObject` or the
   * deletion is graceful (Pods, Namespaces, ServiceAccounts, custom resources); Secrets and
   * ConfigMaps answer with a Success Status.
   */
  deleteReturnsObject: boolean;
}

export const POLICY_GROUP = 'policy.linkerd.io';

const core = (kind: string, namespaced: boolean, fieldLabels: string[] = [], deleteReturnsObject = false): ResourceType => ({
  group: '',
  versions: ['v1'],
  kind,
  listKind: `${kind}List`,
  namespaced,
  fieldLabels,
  deleteReturnsObject,
});

const policy = (kind: string, versions: string[]): ResourceType => ({
  group: POLICY_GROUP,
  versions,
  kind,
  listKind: `${kind}List`,
  namespaced: true,
  fieldLabels: [],
  deleteReturnsObject: true,
});

export const Kinds: Record<Resource, ResourceType> = {
  secrets: core('Secret', true, ['type']),
  configmaps: core('ConfigMap', true),
  pods: core('Pod', true, ['spec.nodeName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'], true),
  serviceaccounts: core('ServiceAccount', true, [], true),
  namespaces: core('Namespace', false, ['status.phase'], true),
  servers: policy('Server', ['v1beta1', 'v1beta2', 'v1beta3']),
  serverauthorizations: policy('ServerAuthorization', ['v1beta1']),
  authorizationpolicies: policy('AuthorizationPolicy', ['v1alpha1']),
  meshtlsauthentications: policy('MeshTLSAuthentication', ['v1alpha1']),
  networkauthentications: policy('NetworkAuthentication', ['v1alpha1']),
};

export function isResource(value: string): value is Resource {
  return Object.hasOwn(Kinds, value);
}

/** `v1`, `policy.linkerd.io/v1beta3` */
export function apiVersionOf(resource: Resource, version: string): string {
  const { group } = Kinds[resource];
  return group ? `${group}/${version}` : version;
}

/** The version a request names when it names none: the newest served (what kubectl prefers). */
export function preferredVersion(resource: Resource): string {
  return Kinds[resource].versions.at(-1)!;
}

/** The resource a group and plural name, or undefined when the server does not serve it. */
export function resourceOf(group: string, plural: string): Resource | undefined {
  return isResource(plural) && Kinds[plural].group === group ? plural : undefined;
}
