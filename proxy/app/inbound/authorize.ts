/**
 * The inbound authorization contract: one decision per connection, after the client is
 * identified and before a byte reaches the application, and again for every open connection
 * whenever the policy changes. The proxy never imports policy/ (the CLI wires an implementation
 * in); anything with this shape will do.
 */

export interface InboundConnectionFacts {
  /** The single DNS SAN of the client's verified certificate; absent for a plaintext client. */
  clientIdentity?: string;
  /** IP address of the TCP peer (IPv4-mapped IPv6 already unmapped). */
  clientIp: string;
  /** `ip:port` of the TCP peer, for logs. */
  clientAddress: string;
  /** True when this proxy terminated mutual TLS for the connection. */
  tls: boolean;
  /** The application port the connection is for (the app port, or the transport header's). */
  targetPort: number;
}

export type InboundDecisionKind = 'allow' | 'deny' | 'audit';

/** What decided, as the labels of Linkerd's `inbound_tcp_authz_*` metrics name it. */
export interface PolicyObjectRef {
  /** `server` for a Server resource, `default` for a default policy (`name` is then the policy). */
  kind: string;
  /** `NS/NAME` for a resource; `all-unauthenticated`, `audit`, ... for a default. */
  name: string;
}

export interface InboundDecision {
  /** `audit`: admitted only because of audit mode; it would have been denied. */
  decision: InboundDecisionKind;
  server: PolicyObjectRef;
  /** The authorization that admitted the client (`audit` for audit); null when denied. */
  authorization: PolicyObjectRef | null;
  /** One readable line: why. */
  reason: string;
}

/**
 * Where the policy comes from and whether it is current:
 * - `default`: no policy received yet; the configured default policy decides (fail closed);
 * - `current`: the source's latest policy is in force;
 * - `stale`: the source is unreachable; the last policy received stays in force.
 */
export interface InboundPolicyStatus {
  source: string;
  state: 'default' | 'current' | 'stale';
  /** When the state last changed (ms since the epoch). */
  sinceMs: number;
  /** Counts the policies applied; 0 until the first one. */
  generation: number;
  /** Why it is `default` or `stale` (the source's last error), or what is in force. */
  detail: string;
}

export interface InboundPolicy {
  /** Synchronous: it runs for every connection and for every open connection on a change. */
  decide(facts: InboundConnectionFacts): InboundDecision;
  /** Called after every change of policy (or of status); returns the unsubscribe function. */
  subscribe(onChange: () => void): () => void;
  status(): InboundPolicyStatus;
  close(): Promise<void>;
}

/** What a proxy without a policy source does: Linkerd's default `all-unauthenticated`. */
export function allowAllPolicy(): InboundPolicy {
  const since = Date.now();
  return {
    decide: () => ({
      decision: 'allow',
      server: { kind: 'default', name: 'all-unauthenticated' },
      authorization: { kind: 'default', name: 'all-unauthenticated' },
      reason: 'no policy source is configured; default policy all-unauthenticated admits everyone',
    }),
    subscribe: () => () => {},
    status: () => ({ source: 'none', state: 'current', sinceMs: since, generation: 0, detail: 'no policy source configured: all-unauthenticated' }),
    close: async () => {},
  };
}
