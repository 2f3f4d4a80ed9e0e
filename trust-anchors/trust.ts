import type { KeyObject } from 'node:crypto';
import { TrustError } from '../common/errors.ts';
import { assertP256, parseP256PrivateKey, spkiDer } from './keys.ts';
import { decodeCertificates } from './pem.ts';
import {
  assertCertificateAuthority,
  assertWithinValidity,
  describeCertificate,
  parseCertificate,
  sha256Hex,
  verifyPath,
  type ParsedCertificate,
} from './certificate.ts';
import type { StoredBundle, StoredIssuer } from './store.ts';

/** The trust anchors every workload checks its peers against. */
export interface TrustBundle {
  pem: string;
  anchors: ParsedCertificate[];
  /** SHA-256 over the sorted anchor fingerprints: equal for equal sets, whatever the order. */
  fingerprint: string;
  source: string;
}

/** The identity service's signing credentials, validated. */
export interface Issuer {
  certificate: ParsedCertificate;
  privateKey: KeyObject;
  /** Further intermediates from `tls.crt`, between the issuer and an anchor. */
  intermediates: ParsedCertificate[];
  /** The anchor the issuer chains to. */
  anchor: ParsedCertificate;
  /** DER of the issuer and its intermediates, leaf side first: what Certify returns. */
  chainDer: Buffer[];
  /** The earliest notAfter in the chain, anchor included: no leaf may outlive it. */
  notAfter: Date;
  source: string;
}

export function bundleFingerprint(anchors: ParsedCertificate[]): string {
  const fingerprints = [...new Set(anchors.map((a) => a.fingerprint))].sort();
  return sha256Hex(Buffer.from(fingerprints.join('\n')));
}

/** Parses and checks a bundle: at least one anchor; every anchor a CA, within its validity. */
export function validateBundle(stored: StoredBundle, now: Date): TrustBundle {
  const anchors = decodeCertificates(stored.pem, stored.source).map((der, i) =>
    parseCertificate(der, `${stored.source} (certificate ${i + 1})`),
  );
  anchors.forEach((anchor, i) => {
    const where = `${stored.source} (certificate ${i + 1})`;
    assertCertificateAuthority(anchor, where);
    assertWithinValidity(anchor, now, where);
  });
  return { pem: stored.pem, anchors, fingerprint: bundleFingerprint(anchors), source: stored.source };
}

/**
 * Parses and checks the issuer against the bundle: it is a CA allowed to sign, its key is ECDSA
 * P-256 and matches its certificate, and it chains to an anchor of the bundle with every
 * certificate on the way within its validity. Each failure names the object and what is wrong.
 */
export function validateIssuer(stored: StoredIssuer, bundle: TrustBundle, now: Date): Issuer {
  const source = stored.source;
  const [issuerDer, ...restDer] = decodeCertificates(stored.certificatePem, `${source} (tls.crt)`);
  const certificate = parseCertificate(issuerDer!, `${source} (tls.crt)`);
  assertCertificateAuthority(certificate, `${source} (tls.crt)`);
  assertP256(certificate.publicKey, `${source} (tls.crt)`);

  const privateKey = parseP256PrivateKey(stored.privateKeyPem, `${source} (tls.key)`);
  if (!spkiDer(privateKey).equals(spkiDer(certificate.publicKey))) {
    throw new TrustError(`${source}: the private key (tls.key) does not match the certificate (tls.crt) ${describeCertificate(certificate)}`);
  }

  // tls.crt may carry the chain above the issuer; ca.crt is only a hint (cert-manager fills it
  // with the signer), never trusted by itself: the path must end at an anchor of the bundle.
  const extra = [...restDer, ...(stored.caPem.trim() ? decodeCertificates(stored.caPem, `${source} (ca.crt)`) : [])];
  const candidates = extra
    .map((der, i) => parseCertificate(der, `${source} (chain certificate ${i + 1})`))
    .filter((c) => !bundle.anchors.some((a) => a.fingerprint === c.fingerprint));
  const path = verifyPath(certificate, candidates, bundle.anchors, now, source);
  const anchor = path[path.length - 1]!;
  const intermediates = path.slice(1, -1);
  return {
    certificate,
    privateKey,
    intermediates,
    anchor,
    chainDer: [certificate.der, ...intermediates.map((c) => c.der)],
    notAfter: new Date(Math.min(...path.map((c) => c.notAfter.getTime()))),
    source,
  };
}
