import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { TrustError } from '../common/errors.ts';

/** ECDSA P-256 with SHA-256 everywhere: anchors, issuers, leaves and tokens. */
export const EC_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateP256KeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Parses a PKCS#8 or SEC1 PEM private key and requires ECDSA P-256. */
export function parseP256PrivateKey(pem: string, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new TrustError(`${source}: the private key does not parse (expected a PEM EC private key)`, { cause: err });
  }
  assertP256(key, source);
  return key;
}

export function assertP256(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const details = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType;
    throw new TrustError(`${source}: the key is ${details}; only ECDSA P-256 keys are supported`);
  }
}

/** SubjectPublicKeyInfo DER, the canonical form for comparing and hashing public keys. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** WebCrypto handles for the key pair, for building CA certificates with @peculiar/x509 (a rare, slow path). */
export async function toCryptoKeyPair(pair: KeyPair): Promise<webcrypto.CryptoKeyPair> {
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey(
    'pkcs8',
    pair.privateKey.export({ type: 'pkcs8', format: 'der' }),
    EC_KEY_ALGORITHM,
    false,
    ['sign'],
  );
  const publicKey = await subtle.importKey('spki', spkiDer(pair.publicKey), EC_KEY_ALGORITHM, true, ['verify']);
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}
