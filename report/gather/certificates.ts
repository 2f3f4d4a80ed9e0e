/** Certificates read from files, reduced to the facts the report shows. Parsing never judges validity here. */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isSignedBy, parseCertificate, type ParsedCertificate } from '../../trust-anchors/certificate.ts';
import { decodeCertificates } from '../../trust-anchors/pem.ts';
import type { CertificateFacts } from '../inputs.ts';

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** `ECDSA P-256`, `RSA 2048`, `Ed25519`. */
export function keyTypeOf(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `ECDSA ${CURVES[details?.namedCurve ?? ''] ?? details?.namedCurve ?? 'unknown curve'}`;
    case 'rsa':
    case 'rsa-pss':
      return `RSA ${details?.modulusLength ?? 'unknown size'}`;
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

export function certificateFacts(cert: ParsedCertificate): CertificateFacts {
  return {
    subject: cert.subject,
    fingerprint: cert.fingerprint,
    serial: cert.serialHex,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    keyType: keyTypeOf(cert.publicKey),
    isCa: cert.isCa,
  };
}

/** Every certificate of a PEM file, parsed; throws (TrustError, ENOENT) as the file is. */
export async function readCertificates(path: string): Promise<ParsedCertificate[]> {
  const pem = await readFile(path, 'utf8');
  return decodeCertificates(pem, path).map((der, i) => parseCertificate(der, `${path} (certificate ${i + 1})`));
}

const MAX_PATH_DEPTH = 8;

/**
 * The anchor that `cert` chains to through `intermediates` by signature alone (validity is
 * judged elsewhere: an expired issuer is still shown with the anchor that signed it); null if none.
 */
export function chainsTo(cert: ParsedCertificate, intermediates: readonly ParsedCertificate[], anchors: readonly ParsedCertificate[]): ParsedCertificate | null {
  let current = cert;
  for (let depth = 0; depth < MAX_PATH_DEPTH; depth++) {
    const anchor = anchors.find((a) => a.fingerprint === current.fingerprint || isSignedBy(current, a));
    if (anchor) return anchor;
    const next = intermediates.find((c) => c !== current && isSignedBy(current, c));
    if (!next) return null;
    current = next;
  }
  return null;
}
