/**
 * The fingerprints a rotation compares across processes. They are the ones `TrustBundle` uses, so
 * that a proxy reporting `bundle.fingerprint` and a command computing it from PEM agree:
 * - an anchor's fingerprint is the lower-case hex SHA-256 of its DER (`ParsedCertificate.fingerprint`);
 * - a bundle's is SHA-256 over its distinct anchor fingerprints, sorted, joined by "\n"
 *   (`bundleFingerprint`), so the order of the PEM blocks does not matter.
 */
import { parseCertificate, type ParsedCertificate } from '../certificate.ts';
import { decodeCertificates, encodePem } from '../pem.ts';
import { bundleFingerprint } from '../trust.ts';

/** True for a lower-case hex SHA-256, the form of every fingerprint here. */
export const isFingerprint = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

/**
 * The fingerprint of one anchor (the first certificate of `certPem`): SHA-256 of its DER, hex.
 * A proxy reports `certificateAnchors` in this form.
 *
 * @example anchorFingerprint(readFileSync('anchor/tls.crt', 'utf8')) // '3f2a…' (64 hex digits)
 */
export function anchorFingerprint(certPem: string, source = 'certificate'): string {
  return certificateFingerprint(certPem, source);
}

/** SHA-256 (hex) of the DER of the first certificate of `certPem`; an issuer's, as a proxy reports `issuerFingerprint`. */
export function certificateFingerprint(certPem: string, source = 'certificate'): string {
  return parseCertificate(decodeCertificates(certPem, source)[0]!, source).fingerprint;
}

/** The fingerprint a proxy holding exactly these anchors reports as its bundle fingerprint. */
export function bundleFingerprintOfPem(bundlePem: string, source = 'bundle'): string {
  return bundleFingerprint(parseAnchors(bundlePem, source));
}

export function parseAnchors(bundlePem: string, source: string): ParsedCertificate[] {
  return decodeCertificates(bundlePem, source).map((der, i) => parseCertificate(der, `${source} (certificate ${i + 1})`));
}

/** A bundle PEM of these anchors, each once, in the given order. */
export function composeBundle(anchors: ParsedCertificate[]): string {
  const seen = new Set<string>();
  return anchors
    .filter((a) => !seen.has(a.fingerprint) && seen.add(a.fingerprint))
    .map((a) => encodePem(a.der, 'CERTIFICATE'))
    .join('');
}

/** Short form for people: the first 16 hex digits and an ellipsis. Never a whole certificate. */
export const shortFingerprint = (fingerprint: string): string => `${fingerprint.slice(0, 16)}…`;
