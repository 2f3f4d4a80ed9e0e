/**
 * The compiled policy of one pod port, as plain data: everything a decision needs and nothing
 * else, so that it can cross a wire (policy/api/codec.ts maps it to Linkerd's `Server` message)
 * and be decided on the other side by the same `decidePort` that `PolicyIndex.evaluate` uses.
 * Built by `index.portPolicy(pod, port)`; never mutated.
 */
import type { Network } from '../net/cidr.ts';
import type { DefaultPolicyName, ProxyProtocol } from '../resources/types.ts';

/** What an authorization is: a resource (in the pod's namespace) or a default policy by name. */
export type AuthorizationRef =
  | { kind: 'AuthorizationPolicy' | 'ServerAuthorization'; namespace: string; name: string }
  | { kind: 'default'; name: DefaultPolicyName };

/**
 * Who a client must be, in the three forms of Linkerd's `Authn`:
 * - `unauthenticated`: anyone, plaintext included;
 * - `tls-unauthenticated`: any client that came over mesh TLS (ServerAuthorization `unauthenticatedTLS`);
 * - `mesh-tls`: a verified identity equal to one of `identities` or ending with one of `suffixes`.
 *   Identities are normalized (DNS form lower-cased, no trailing dot); suffixes carry their
 *   leading dot (`.demo.serviceaccount.identity.linkerd.cluster.local`); the empty suffix `''`
 *   admits every identity (Linkerd's encoding of `*`) and then stands alone.
 */
export type PortAuthentication =
  | { kind: 'unauthenticated' }
  | { kind: 'tls-unauthenticated' }
  | { kind: 'mesh-tls'; identities: readonly string[]; suffixes: readonly string[] };

export interface PortAuthorization {
  ref: AuthorizationRef;
  /** Client addresses admitted; null: every address. */
  networks: readonly Network[] | null;
  /** True when `networks` are the cluster networks (reasons name them so). */
  clusterNetworks: boolean;
  authentication: PortAuthentication;
}

/** What governs the port: a Server (`NS/NAME`), or a default policy and where it came from. */
export type PortGovernor =
  | { kind: 'server'; server: string }
  | { kind: 'default'; policy: DefaultPolicyName; origin: string };

export interface PortPolicy {
  /** `NS/NAME` */
  pod: string;
  port: number;
  governor: PortGovernor;
  /** How the proxy treats the bytes: the Server's proxyProtocol; `unknown` (detect) or `opaque` on default ports. */
  protocol: ProxyProtocol;
  /**
   * Tried in order: the resources' authorizations (sorted by reference), then the one a Server's
   * accessPolicy or the default policy stands for (`default/all-authenticated`...), if any.
   */
  authorizations: readonly PortAuthorization[];
  /** What happens to a client no authorization admits: refused, or admitted and recorded (`audit`). */
  fallback: 'deny' | 'audit';
  /** Reason fragments for a Server: the Servers it won the port from; the void policies that target it ('' if none). */
  conflict: string;
  void: string;
}

/** `AuthorizationPolicy/demo/web`, `default/audit`: how decisions name an authorization. */
export function formatAuthorizationRef(ref: AuthorizationRef): string {
  return ref.kind === 'default' ? `default/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** `AuthorizationPolicy demo/web`, `default policy all-authenticated`: how reasons name one. */
export function describeAuthorizationRef(ref: AuthorizationRef): string {
  return ref.kind === 'default' ? `default policy ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}
