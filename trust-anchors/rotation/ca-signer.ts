import { TrustError } from '../../common/errors.ts';
import { assertCertificateAuthority, describeCertificate, parseCertificate, type ParsedCertificate } from '../certificate.ts';
import { parseP256PrivateKey, spkiDer, type KeyPair } from '../keys.ts';
import { decodeCertificates, encodePem } from '../pem.ts';
import type { StoredIssuer } from '../store.ts';
import type { CertificateFacts } from './state.ts';

/** A CA certificate with its key, checked to match: what signs a new issuer. */
export interface CaSigner {
  certificate: ParsedCertificate;
  /** The certificate alone, PEM. */
  certificatePem: string;
  certificateDer: Buffer;
  keys: KeyPair;
}

/** Parses a stored key pair (an anchor's) and checks that it is a CA and that the key matches. */
export function loadCaSigner(stored: StoredIssuer): CaSigner {
  const certificate = parseCertificate(decodeCertificates(stored.certificatePem, stored.source)[0]!, stored.source);
  assertCertificateAuthority(certificate, stored.source);
  const privateKey = parseP256PrivateKey(stored.privateKeyPem, `${stored.source} (tls.key)`);
  if (!spkiDer(privateKey).equals(spkiDer(certificate.publicKey))) {
    throw new TrustError(`${stored.source}: the private key (tls.key) does not match the certificate ${describeCertificate(certificate)}`);
  }
  return {
    certificate,
    certificatePem: encodePem(certificate.der, 'CERTIFICATE'),
    certificateDer: certificate.der,
    keys: { privateKey, publicKey: certificate.publicKey },
  };
}

/** The subject's first CN, which a rotation gives the replacement too (`root.linkerd.cluster.local`). */
export function commonNameOf(certificate: ParsedCertificate): string | undefined {
  return certificate.peculiar.subjectName.getField('CN')[0];
}

export function certificateFacts(certificate: ParsedCertificate): CertificateFacts {
  return { fingerprint: certificate.fingerprint, subject: certificate.subject, notAfter: certificate.notAfter.toISOString() };
}
