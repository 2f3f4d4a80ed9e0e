/**
 * The inbound authorization hook: one decision per connection, after the client is identified
 * and before a byte reaches the application. The policy engine supplies a real one later; the
 * proxy itself never imports policy/ (dependencies point inward).
 */

export interface InboundConnectionFacts {
  direction: 'inbound';
  /** The single DNS SAN of the client's verified certificate; absent for a plaintext client. */
  clientIdentity?: string;
  /** `ip:port` of the TCP peer. */
  clientAddress: string;
  /** True when this proxy terminated mutual TLS for the connection. */
  tls: boolean;
  /** The application port the connection would be forwarded to. */
  targetPort: number;
}

export interface AuthorizationDecision {
  allow: boolean;
  /** Short and stable, for logs: `default-allow`, `no-matching-policy`, ... */
  reason: string;
}

export type Authorize = (facts: InboundConnectionFacts) => AuthorizationDecision | Promise<AuthorizationDecision>;

/** What a proxy without policy does, like Linkerd's default `all-unauthenticated`. */
export const allowAll: Authorize = () => ({ allow: true, reason: 'default-allow' });
