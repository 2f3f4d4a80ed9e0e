import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from './x509.ts';
import type { Clock } from '../common/clock.ts';
import { EC_SIGNING_ALGORITHM, generateP256KeyPair, toCryptoKeyPair, type KeyPair } from './keys.ts';
import { encodePem } from './pem.ts';

/** Anchors and issuers are backdated like leaves, so that a peer with a slow clock accepts them at once. */
export const CA_CLOCK_SKEW_MS = 20_000;

/**
 * A random positive serial, DER-minimal, with 126 bits of entropy: the top bit is cleared (positive)
 * and the next one set (no leading zero byte to strip), unlike Linkerd's per-process counter.
 */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

export interface CreatedCa {
  certificatePem: string;
  certificateDer: Buffer;
  keys: KeyPair;
}

export interface CaOptions {
  commonName: string;
  lifetimeMs: number;
  clock: Clock;
}

/** A self-signed ECDSA P-256 trust anchor. */
export async function createTrustAnchor(options: CaOptions): Promise<CreatedCa> {
  const keys = generateP256KeyPair();
  const cryptoKeys = await toCryptoKeyPair(keys);
  const { notBefore, notAfter } = validityWindow(options);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial().toString('hex'),
      name: [{ CN: [options.commonName] }],
      notBefore,
      notAfter,
      keys: cryptoKeys,
      signingAlgorithm: EC_SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(cryptoKeys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return finish(cert, keys);
}

export interface IssuerOptions extends CaOptions {
  /** The anchor (or an intermediate) that signs the issuer. */
  signer: { certificateDer: Buffer; keys: KeyPair };
}

/**
 * An issuer: an intermediate CA with path length 0, signed by `signer`. Its notAfter never passes
 * the signer's, so the chain expires from the bottom up.
 */
export async function createIssuer(options: IssuerOptions): Promise<CreatedCa> {
  const keys = generateP256KeyPair();
  const cryptoKeys = await toCryptoKeyPair(keys);
  const signerKeys = await toCryptoKeyPair(options.signer.keys);
  const signerCert = new x509.X509Certificate(options.signer.certificateDer);
  const window = validityWindow(options);
  const notAfter = new Date(Math.min(window.notAfter.getTime(), signerCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial().toString('hex'),
      subject: [{ CN: [options.commonName] }],
      issuer: signerCert.subjectName,
      notBefore: window.notBefore,
      notAfter,
      publicKey: cryptoKeys.publicKey,
      signingKey: signerKeys.privateKey,
      signingAlgorithm: EC_SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(cryptoKeys.publicKey, false, webcrypto),
        await x509.AuthorityKeyIdentifierExtension.create(signerKeys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return finish(cert, keys);
}

function validityWindow(options: CaOptions): { notBefore: Date; notAfter: Date } {
  const now = options.clock.now().getTime();
  return { notBefore: new Date(now - CA_CLOCK_SKEW_MS), notAfter: new Date(now + options.lifetimeMs) };
}

function finish(cert: x509.X509Certificate, keys: KeyPair): CreatedCa {
  const certificateDer = Buffer.from(cert.rawData);
  return { certificateDer, certificatePem: encodePem(certificateDer, 'CERTIFICATE'), keys };
}
