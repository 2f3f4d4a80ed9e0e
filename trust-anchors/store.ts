/**
 * Where trust material lives. A store only moves bytes; it never judges them — validation is
 * `loadTrust` (validate.ts), so that the directory and Kubernetes stores are held to one standard.
 */

/** The issuer as stored: the shape of a `kubernetes.io/tls` Secret as cert-manager writes it. */
export interface StoredIssuer {
  /** `tls.crt`: the issuer certificate (PEM), optionally followed by intermediates up to an anchor. */
  certificatePem: string;
  /** `tls.key`: the issuer's private key (PKCS#8 or SEC1 PEM). */
  privateKeyPem: string;
  /** `ca.crt`: the anchor that signed the issuer (PEM); may be empty. */
  caPem: string;
  /** Names the file or object, for error messages: `/home/x/issuer/tls.crt`, `Secret linkerd/linkerd-identity-issuer`. */
  source: string;
}

export interface StoredBundle {
  /** PEM list of trust anchors (`ca-bundle.crt`). */
  pem: string;
  source: string;
}

export interface Subscription {
  close(): void;
}

export interface TrustStore {
  /** A human description: `directory /x/.identity`, `Kubernetes Secret linkerd/linkerd-identity-issuer`. */
  readonly description: string;
  readBundle(): Promise<StoredBundle>;
  readIssuer(): Promise<StoredIssuer>;
  writeBundle(pem: string): Promise<void>;
  writeIssuer(issuer: Omit<StoredIssuer, 'source'>): Promise<void>;
  /**
   * Calls `onChange` (debounced by the store as it sees fit) whenever the issuer or the bundle may
   * have changed. The caller re-reads and re-validates; a spurious call is harmless.
   */
  watch(onChange: () => void): Subscription;
}
