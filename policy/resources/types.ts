/**
 * The policy resources as typed, validated objects. Parsers in this folder produce them from
 * what users write (YAML or JSON manifests); the evaluator reads nothing else.
 */
import type { Network } from '../net/cidr.ts';

export const POLICY_GROUP = 'policy.linkerd.io';

/** The default inbound policies, also the values of a Server's `accessPolicy`. */
export const DEFAULT_POLICIES = [
  'all-unauthenticated',
  'all-authenticated',
  'cluster-unauthenticated',
  'cluster-authenticated',
  'deny',
  'audit',
] as const;
export type DefaultPolicyName = (typeof DEFAULT_POLICIES)[number];

export function isDefaultPolicyName(value: string): value is DefaultPolicyName {
  return (DEFAULT_POLICIES as readonly string[]).includes(value);
}

export const PROXY_PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'] as const;
export type ProxyProtocol = (typeof PROXY_PROTOCOLS)[number];

export const DEFAULT_INBOUND_POLICY_ANNOTATION = 'config.linkerd.io/default-inbound-policy';

/** Where a resource was read: the file and the 1-based document (and item, inside a List). */
export interface SourceRef {
  file: string;
  document: number;
  item?: number;
}

export interface ObjectMeta {
  name: string;
  /** Empty for cluster-scoped resources (Namespace). */
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch; absent in most hand-written manifests. */
  creationTimestamp?: number;
}

interface Resource<K extends string> {
  kind: K;
  apiVersion: string;
  meta: ObjectMeta;
  source: SourceRef;
}

export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: readonly string[];
}

/** Kubernetes label selector: matchLabels AND matchExpressions; an empty one selects everything. */
export interface LabelSelector {
  matchLabels: Readonly<Record<string, string>>;
  matchExpressions: readonly LabelRequirement[];
}

export interface Server extends Resource<'Server'> {
  /** Null when the Server selects ExternalWorkloads (v1beta2+), which are never pods. */
  podSelector: LabelSelector | null;
  /** A port number, or the name of a container port. */
  port: number | string;
  proxyProtocol: ProxyProtocol;
  /** What applies to traffic that no authorization admits; `deny` unless set (v1beta3). */
  accessPolicy: DefaultPolicyName;
}

export type ServerAuthorizationClient =
  | { type: 'unauthenticated' }
  /** `meshTLS.unauthenticatedTLS: true`: any TLS client, with or without an identity. */
  | { type: 'tls-unauthenticated' }
  | { type: 'mesh-tls'; identities: readonly string[]; serviceAccounts: readonly { name: string; namespace: string }[] };

export interface ServerAuthorization extends Resource<'ServerAuthorization'> {
  server: { name: string } | { selector: LabelSelector };
  /** Null when unset: the cluster networks apply. */
  networks: readonly Network[] | null;
  client: ServerAuthorizationClient;
}

export type PolicyTarget =
  | { kind: 'Server'; name: string }
  | { kind: 'Namespace'; name: string }
  | { kind: 'HTTPRoute' | 'GRPCRoute'; group: string; name: string };

export interface AuthenticationRef {
  kind: 'MeshTLSAuthentication' | 'NetworkAuthentication' | 'ServiceAccount';
  name: string;
  /** Resolved: the policy's own namespace when the reference omits it. */
  namespace: string;
}

export interface AuthorizationPolicy extends Resource<'AuthorizationPolicy'> {
  target: PolicyTarget;
  /** At most one identity reference (MeshTLSAuthentication or ServiceAccount); null admits any client. */
  identityRef: AuthenticationRef | null;
  /** At most one NetworkAuthentication; null admits every address. */
  networkRef: AuthenticationRef | null;
}

export type IdentityRef =
  | { kind: 'ServiceAccount'; name: string; namespace: string }
  | { kind: 'Namespace'; name: string };

export interface MeshTLSAuthentication extends Resource<'MeshTLSAuthentication'> {
  identities: readonly string[];
  identityRefs: readonly IdentityRef[];
}

export interface NetworkAuthentication extends Resource<'NetworkAuthentication'> {
  networks: readonly Network[];
}

export interface ContainerPort {
  container: string;
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Pod extends Resource<'Pod'> {
  serviceAccountName: string;
  ports: readonly ContainerPort[];
  podIPs: readonly string[];
}

export type Namespace = Resource<'Namespace'>;
export type ServiceAccount = Resource<'ServiceAccount'>;

export type PolicyResource =
  | Server
  | ServerAuthorization
  | AuthorizationPolicy
  | MeshTLSAuthentication
  | NetworkAuthentication
  | Pod
  | Namespace
  | ServiceAccount;

export type ResourceKind = PolicyResource['kind'];

export interface ResourceSet {
  servers: Server[];
  serverAuthorizations: ServerAuthorization[];
  authorizationPolicies: AuthorizationPolicy[];
  meshTLSAuthentications: MeshTLSAuthentication[];
  networkAuthentications: NetworkAuthentication[];
  pods: Pod[];
  namespaces: Namespace[];
  serviceAccounts: ServiceAccount[];
}

export function emptyResourceSet(): ResourceSet {
  return {
    servers: [],
    serverAuthorizations: [],
    authorizationPolicies: [],
    meshTLSAuthentications: [],
    networkAuthentications: [],
    pods: [],
    namespaces: [],
    serviceAccounts: [],
  };
}

/** `NS/NAME`, or `NAME` for a cluster-scoped resource. */
export function keyOf(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** `Server demo/api`, as messages name a resource. */
export function describe(resource: { kind: string; meta: ObjectMeta }): string {
  return `${resource.kind} ${keyOf(resource.meta)}`;
}
