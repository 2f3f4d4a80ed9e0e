import type { Clock } from '../../common/clock.ts';
import { ConfigError, NotFoundError, TrustError } from '../../common/errors.ts';
import { createIssuer } from '../certificates.ts';
import { describeCertificate } from '../certificate.ts';
import { privateKeyToPem } from '../keys.ts';
import type { StoredIssuer, TrustStore } from '../store.ts';
import { validateBundle, validateIssuer, type Issuer, type TrustBundle } from '../trust.ts';
import { commonNameOf, type CaSigner } from './ca-signer.ts';
import { shortFingerprint } from './fingerprints.ts';

export interface IssuerRotationOptions {
  store: TrustStore;
  /** The anchor that signs the new issuer; it must be in the store's bundle. */
  signer: CaSigner;
  lifetimeMs: number;
  clock: Clock;
  /** Default: the CN of the issuer in the store (what `identity init` chose). */
  commonName?: string;
}

export interface IssuerRotationResult {
  issuer: Issuer;
  /** The issuer that was in the store, when it was readable and valid. */
  previous: Issuer | undefined;
}

/**
 * Makes a new issuer (the profile of `identity init`'s: ECDSA P-256, CA, path length 0, never
 * outliving its signer), validates it against the store's bundle as the identity service will,
 * writes it, and reads it back. The identity service picks it up live (identity/issuer-reloader.ts).
 *
 * @example
 * const signer = loadCaSigner(await new DirectoryTrustStore(home).readAnchor());
 * const { issuer } = await rotateIssuer({ store, signer, lifetimeMs: 180 * 86_400_000, clock: systemClock });
 */
export async function rotateIssuer(options: IssuerRotationOptions): Promise<IssuerRotationResult> {
  const { store, signer, clock } = options;
  const now = clock.now();
  const bundle = validateBundle(await store.readBundle(), now);
  if (!bundle.anchors.some((a) => a.fingerprint === signer.certificate.fingerprint)) {
    throw new TrustError(
      `the anchor ${describeCertificate(signer.certificate)} is not in the trust bundle ${bundle.source} ` +
        `(bundle ${shortFingerprint(bundle.fingerprint)}); the identity service would refuse an issuer it signs`,
    );
  }
  const previous = await readPreviousIssuer(store, bundle, now);
  const commonName = options.commonName ?? (previous ? commonNameOf(previous.certificate) : undefined);
  if (!commonName) {
    throw new ConfigError(`the issuer in ${store.description} cannot be read to take its name from; give the new issuer's common name`);
  }
  const created = await createIssuer({ commonName, lifetimeMs: options.lifetimeMs, clock, signer });
  const stored: Omit<StoredIssuer, 'source'> = {
    certificatePem: created.certificatePem,
    privateKeyPem: privateKeyToPem(created.keys.privateKey),
    caPem: signer.certificatePem,
  };
  // Validate before writing: an issuer the identity service would refuse never reaches the store.
  const issuer = validateIssuer({ ...stored, source: `new issuer for ${store.description}` }, bundle, now);
  await store.writeIssuer(stored);
  const written = validateIssuer(await store.readIssuer(), bundle, now);
  if (written.certificate.fingerprint !== issuer.certificate.fingerprint) {
    throw new TrustError(`${written.source} changed again while we wrote it (another writer?); check it before going on`);
  }
  return { issuer: written, previous };
}

async function readPreviousIssuer(store: TrustStore, bundle: TrustBundle, now: Date): Promise<Issuer | undefined> {
  try {
    return validateIssuer(await store.readIssuer(), bundle, now);
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof TrustError) return undefined;
    throw err;
  }
}
