/**
 * Throwaway PKI for transport tests: an ECDSA P-256 CA and server certificates signed by it, made
 * in memory with @peculiar/x509 over node's WebCrypto. Nothing is written to disk and nothing here
 * is production code; trust-anchors/ owns the real certificate profile.
 */
// @peculiar/x509 v2 needs the Reflect metadata polyfill loaded first (plain node resolves its CJS build).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The identity service's own name for a control plane in `linkerd` with trust domain `cluster.local`. */
export const IDENTITY_SERVICE_NAME = 'identity.linkerd.serviceaccount.identity.linkerd.cluster.local';

const crypto = webcrypto;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const HOUR = 3_600_000;

export interface TestCa {
  name: string;
  certificatePem: string;
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface TestServerCertificate {
  /** The leaf followed by nothing else: the CA is the trust anchor and is not sent. */
  certificateChainPem: string;
  privateKeyPem: string;
  /** Lower-case hex, as node's `getPeerCertificate().serialNumber` reports it (upper-cased there). */
  serialHex: string;
}

// A fixed serial prefix keeps the DER minimal and positive; the counter makes serials distinct.
let serialCounter = 0;
function nextSerial(): string {
  serialCounter += 1;
  return `41${serialCounter.toString(16).padStart(14, '0')}`;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

export async function createTestCa(name = 'test root CA'): Promise<TestCa> {
  const keys = await generateKeys();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: nextSerial(),
      name: `CN=${name}`,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 24 * HOUR),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    },
    crypto,
  );
  return { name, certificatePem: certificate.toString('pem') + '\n', certificate, keys };
}

/** A TLS server certificate for `dnsName` (its only SAN), signed by `ca`. */
export async function createServerCertificate(ca: TestCa, dnsName = IDENTITY_SERVICE_NAME): Promise<TestServerCertificate> {
  const keys = await generateKeys();
  const now = Date.now();
  const serialHex = nextSerial();
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialHex,
      subject: '',
      issuer: ca.certificate.subject,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 24 * HOUR),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }], true),
      ],
    },
    crypto,
  );
  return {
    certificateChainPem: certificate.toString('pem') + '\n',
    privateKeyPem: await privateKeyPem(keys.privateKey),
    serialHex,
  };
}
