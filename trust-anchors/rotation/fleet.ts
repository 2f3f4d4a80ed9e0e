/**
 * The proxies a rotation waits for. The set is explicit: every member is asked, and a member that
 * does not answer is a straggler, never skipped. Where the set comes from (a registry file, the
 * meshed pods of a cluster) and how a member is asked (its admin endpoint over HTTP) are behind
 * these interfaces, so that this module stays free of transports.
 */

/** One proxy: a name for people, and its admin address. */
export interface FleetMember {
  name: string;
  /** `host:port` of the proxy's admin listener; '' when not known yet (see `unavailable`). */
  admin: string;
  /**
   * Set when the member is known to exist but cannot be asked yet, and why: `Pending, no pod IP
   * yet`. Such a member is a straggler with this reason, never asked and never skipped.
   */
  unavailable?: string;
}

/** The proxies to wait for. Asked again on every round, so that a member added meanwhile counts. */
export interface Fleet {
  /** Where the members come from, for messages: `/home/.identity/mesh/proxies.json`. */
  readonly description: string;
  /** What to do when the fleet lists no proxy, for the error that says so; a generic hint by default. */
  readonly emptyHint?: string;
  members(): Promise<FleetMember[]>;
}

/** What a proxy says about the trust it holds (its `GET /identity`). */
export interface ProxyTrustReport {
  identity: string;
  /** Fingerprint of the bundle in force (see fingerprints.ts). */
  bundleFingerprint: string;
  /** Fingerprints of the anchors of its bundle that its current certificate chains to; empty without one. */
  certificateAnchors: string[];
  /** SHA-256 (hex) of the DER of the certificate that issued its leaf; null without a certificate. */
  issuerFingerprint: string | null;
  notAfter: string | null;
  /** Serial of the certificate in use (hex), when the proxy reports it; tells one renewal from the next. */
  serial?: string | null;
}

/** How a member is asked. Errors are reported as the member's reason, message first: `unreachable: ECONNREFUSED`. */
export interface FleetProbe {
  readTrust(member: FleetMember): Promise<ProxyTrustReport>;
  /** Asks the proxy to renew its certificate now; resolves once the request is accepted, not when it is done. */
  requestRenewal(member: FleetMember): Promise<void>;
}
