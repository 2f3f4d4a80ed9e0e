/**
 * The mesh TLS credential store: the current certificate, key and trust bundle, and the two
 * SecureContexts built from them. Validate, then publish: a new certificate or bundle is checked
 * first and only then swapped in, as one immutable snapshot, for handshakes that start afterwards.
 * A connection reads the snapshot once when it starts its handshake; open connections keep theirs.
 *
 * ## Why reloading the trust bundle while running is safe
 * Linkerd's proxy reads its anchors once (its maintainers declined hot reload, linkerd2#9313).
 * We reload them, and hold that to be safe because all of these hold:
 * 1. Validate before use. A new bundle is parsed and checked (`validateBundle`: every anchor a CA
 *    within its validity) before anything changes; a file that fails leaves the bundle in force.
 * 2. Own certificate must still chain. The proxy's current certificate must verify against the
 *    new bundle (`verifyPath`); otherwise the change is refused, logged at error and counted
 *    (`proxy_trust_bundle_reloads_total{result="refused"}`): applying it would cut this proxy off
 *    from every peer, which is an outage, not a rotation.
 * 3. New handshakes only. The bundle is part of the SecureContexts; open connections, already
 *    verified, are not touched, and no TLS session is ever resumed (server tickets are off and
 *    the client never offers a session), so every new connection is verified in full against
 *    the bundle in force when it starts.
 * 4. Every change is visible. Each applied, refused or invalid bundle is logged with the old and
 *    new fingerprints and counted by result; `GET /identity` on the admin port shows the
 *    fingerprint in force.
 * 5. The source is no weaker than the anchors. The bundle file must be writable only by whoever
 *    may already change the anchors (in Kubernetes: the trust-roots ConfigMap, mounted read-only);
 *    whoever can write it could equally have handed the proxy a different bundle at start-up,
 *    so reloading grants nobody a power they did not have.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Clock } from '../../common/clock.ts';
import { TrustError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { parseCertificate, verifyPath, type ParsedCertificate } from '../../trust-anchors/certificate.ts';
import { assertP256, privateKeyToPem, spkiDer } from '../../trust-anchors/keys.ts';
import { encodePem } from '../../trust-anchors/pem.ts';
import type { TrustBundle } from '../../trust-anchors/trust.ts';
import type { CredentialsSink, IssuedCredentials } from '../identity-client/types.ts';

/** What a handshake needs, swapped as one object. `tls` is absent until a certificate is held. */
export interface MeshTlsSnapshot {
  bundle: TrustBundle;
  tls?: {
    credentials: IssuedCredentials;
    leaf: ParsedCertificate;
    server: SecureContext;
    client: SecureContext;
  };
}

export type MeshTlsChange = { kind: 'credentials' | 'bundle'; snapshot: MeshTlsSnapshot; previous: MeshTlsSnapshot };

export interface CredentialStoreOptions {
  localIdentity: string;
  bundle: TrustBundle;
  clock: Clock;
  logger: Logger;
}

export class CredentialStore {
  readonly localIdentity: string;
  #snapshot: MeshTlsSnapshot;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #listeners = new Set<(change: MeshTlsChange) => void>();

  constructor(options: CredentialStoreOptions) {
    this.localIdentity = options.localIdentity.toLowerCase();
    this.#snapshot = { bundle: options.bundle };
    this.#clock = options.clock;
    this.#logger = options.logger;
  }

  /** The identity client's CredentialsSink: throws (TrustError) to refuse a certificate. */
  readonly sink: CredentialsSink = (credentials) => this.acceptCredentials(credentials);

  snapshot(): MeshTlsSnapshot {
    return this.#snapshot;
  }

  bundle(): TrustBundle {
    return this.#snapshot.bundle;
  }

  /** Listeners run after the swap; a throwing listener is logged, never undoes it. */
  onChange(listener: (change: MeshTlsChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Verifies a newly issued certificate (chains to the current bundle, exactly this proxy's
   * identity, a P-256 key that matches it), then publishes contexts built from it.
   * @throws TrustError naming what is wrong; the credentials in force stay.
   */
  acceptCredentials(credentials: IssuedCredentials): void {
    const { bundle } = this.#snapshot;
    const leaf = verifyCredentials(credentials, this.localIdentity, bundle, this.#clock.now());
    const next: MeshTlsSnapshot = { bundle, tls: { credentials, leaf, ...buildContexts(credentials, bundle) } };
    this.#publish('credentials', next);
    this.#logger.info(
      { event: 'meshtls.credentials', identity: this.localIdentity, serial: leaf.serialHex, notAfter: leaf.notAfter.toISOString(), bundle: bundle.fingerprint },
      'new certificate in use for new handshakes',
    );
  }

  /**
   * Applies a validated bundle: the proxy's own certificate must chain to it, or it is refused.
   * The caller (the bundle file watcher) has parsed and validated it, and logs and counts.
   * @throws TrustError when the own certificate does not chain to `bundle`.
   */
  applyBundle(bundle: TrustBundle): void {
    const current = this.#snapshot.tls;
    if (!current) {
      this.#publish('bundle', { bundle });
      return;
    }
    const leaf = verifyCredentials(current.credentials, this.localIdentity, bundle, this.#clock.now(), 'the new trust bundle');
    this.#publish('bundle', { bundle, tls: { credentials: current.credentials, leaf, ...buildContexts(current.credentials, bundle) } });
  }

  #publish(kind: MeshTlsChange['kind'], next: MeshTlsSnapshot): void {
    const previous = this.#snapshot;
    this.#snapshot = next;
    for (const listener of this.#listeners) {
      try {
        listener({ kind, snapshot: next, previous });
      } catch (err) {
        this.#logger.error({ event: 'meshtls.listener_failed', err }, 'a credential change listener failed');
      }
    }
  }
}

/**
 * The checks a certificate must pass before it is used: path to an anchor of `bundle` (signatures,
 * validity, CA flags, path length), exactly one DNS SAN equal to our identity, and a P-256 key
 * that matches the certificate. Returns the parsed leaf.
 */
export function verifyCredentials(
  credentials: IssuedCredentials,
  localIdentity: string,
  bundle: TrustBundle,
  now: Date,
  against = 'the trust bundle',
): ParsedCertificate {
  const source = `certificate ${credentials.serialHex} for ${credentials.identity}`;
  if (credentials.identity.toLowerCase() !== localIdentity) {
    throw new TrustError(`${source}: issued for ${credentials.identity}, but this proxy is ${localIdentity}`);
  }
  const leaf = parseCertificate(credentials.leafDer, source);
  const dnsNames = leaf.dnsNames.map((n) => n.toLowerCase());
  if (dnsNames.length !== 1 || dnsNames[0] !== localIdentity) {
    throw new TrustError(`${source}: its DNS SANs are [${dnsNames.join(', ')}]; exactly [${localIdentity}] is required`);
  }
  if (leaf.isCa) throw new TrustError(`${source}: it is a CA certificate, not a workload certificate`);
  assertP256(credentials.privateKey, `${source} (private key)`);
  if (!spkiDer(credentials.privateKey).equals(spkiDer(leaf.publicKey))) {
    throw new TrustError(`${source}: the private key does not match the certificate`);
  }
  const intermediates = credentials.intermediatesDer.map((der, i) => parseCertificate(der, `${source} (intermediate ${i + 1})`));
  try {
    verifyPath(leaf, intermediates, bundle.anchors, now, source);
  } catch (err) {
    throw new TrustError(`${(err as Error).message} (checked against ${against}, fingerprint ${bundle.fingerprint.slice(0, 16)}…)`, { cause: err });
  }
  return leaf;
}

/**
 * Built once per change, never per connection: parsing the key and certificates per handshake
 * halves the handshake rate. TLS 1.3 only. Server tickets are off so that no session outlives a
 * credential or bundle change through resumption.
 */
function buildContexts(credentials: IssuedCredentials, bundle: TrustBundle): { server: SecureContext; client: SecureContext } {
  const options = {
    key: privateKeyToPem(credentials.privateKey),
    cert: [credentials.leafDer, ...credentials.intermediatesDer].map((der) => encodePem(der, 'CERTIFICATE')).join(''),
    // The parsed anchors, not the file's text: exactly the certificates that were validated.
    ca: bundle.anchors.map((anchor) => encodePem(anchor.der, 'CERTIFICATE')),
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
  };
  return {
    server: createSecureContext({ ...options, secureOptions: constants.SSL_OP_NO_TICKET }),
    client: createSecureContext(options),
  };
}
