import { defaultIdentityDomain, type IdentityDomain } from '../../common/names.ts';
import { networksFromCidrs, type Network } from '../net/cidr.ts';
import type { DefaultPolicyName } from '../resources/types.ts';

/** Linkerd's default cluster networks. */
export const DEFAULT_CLUSTER_NETWORKS: readonly string[] = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];

export interface EvaluatorConfig {
  /** Trust domain and control-plane namespace: how ServiceAccount references become identities. */
  domain: IdentityDomain;
  /** The networks `cluster-*` policies and ServerAuthorizations without `networks` admit. */
  clusterNetworks: readonly Network[];
  /** The cluster-wide default inbound policy (Linkerd installs `all-unauthenticated`). */
  defaultPolicy: DefaultPolicyName;
}

export function defaultEvaluatorConfig(overrides: Partial<EvaluatorConfig> = {}): EvaluatorConfig {
  return {
    domain: defaultIdentityDomain,
    clusterNetworks: networksFromCidrs(DEFAULT_CLUSTER_NETWORKS),
    defaultPolicy: 'all-unauthenticated',
    ...overrides,
  };
}

export interface EvaluationInput {
  /** `NS/NAME` of the pod receiving the connection. */
  pod: string;
  port: number;
  /** The client's verified mesh identity; absent (or empty) for a plaintext client. */
  clientIdentity?: string;
  clientIp: string;
}

export type DecisionKind = 'allow' | 'deny' | 'audit';

export interface Decision {
  /** `audit`: admitted, but only because of audit mode; it would have been denied. */
  decision: DecisionKind;
  /** `NS/NAME` of the Server that governs the port; null when the default policy applies. */
  server: string | null;
  /**
   * `Kind/NS/NAME` of the authorization that admitted the client (`AuthorizationPolicy/demo/web`,
   * `ServerAuthorization/demo/web`), `default/POLICY` for a default or accessPolicy (`default/audit`,
   * `default/all-unauthenticated`, as Linkerd labels them); null when denied.
   */
  authorization: string | null;
  /** One readable line: why. */
  reason: string;
  /** The default policy in force when no Server governs the port (`server` is null). */
  defaultPolicy?: DefaultPolicyName;
}

/** Two or more Servers select the same pod port; `server` is the one that applies. */
export interface PortConflict {
  pod: string;
  port: number;
  server: string;
  ignored: string[];
}

/** Who a client must be: any identity, one of the exact ones, or one under a suffix. */
export interface IdentityMatcher {
  any: boolean;
  exact: ReadonlySet<string>;
  /** Each with its leading dot: `.demo.serviceaccount.identity.linkerd.cluster.local`. */
  suffixes: readonly string[];
  /** For reasons: `web.demo.serviceaccount.identity.linkerd.cluster.local`, `any mesh identity`. */
  text: string;
}
