import type { KeyObject } from 'node:crypto';

/**
 * A certificate the identity service issued to this proxy, with the key made for it. The key
 * lives in memory only; a fresh one is made at every renewal.
 */
export interface IssuedCredentials {
  identity: string;
  leafDer: Buffer;
  /** Issuer and intermediates, leaf side first, anchor excluded (as Certify returns them). */
  intermediatesDer: Buffer[];
  privateKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  serialHex: string;
}

/**
 * Where the identity client delivers credentials. It validates them (chain to the current bundle,
 * exact identity) and publishes them for new handshakes; it throws to refuse them, and the
 * client then counts a failure, keeps the old certificate and retries.
 */
export type CredentialsSink = (credentials: IssuedCredentials) => void;
