/**
 * The identity service's own TLS credentials (its certificate chain and key), swappable at run
 * time. Validate, then publish: a replacement is parsed and checked completely before anyone sees
 * it, and a bad one leaves the current credentials in force. Knows nothing of gRPC.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { systemClock, type Clock } from '../../common/clock.ts';
import { TrustError } from '../../common/errors.ts';

export interface ServingCredentials {
  /** PEM: the service's certificate first, then the intermediates above it (the anchor may be omitted). */
  certificateChainPem: string;
  /** PEM, PKCS#8 or SEC1. */
  privateKeyPem: string;
}

/** What the checks learned about the credentials; for metrics and logs. */
export interface ServingCredentialsInfo {
  notAfter: Date;
  /** SHA-256 of the service's certificate, colon-separated hex as node prints it. */
  fingerprint256: string;
}

export interface ServingCredentialsOptions {
  clock?: Clock;
  /**
   * When given, every certificate must chain to this bundle and carry this DNS name before it is
   * used: the same checks a client will make, done before a bad certificate can lock clients out.
   */
  verify?: { trustBundlePem: string; serverIdentity: string };
}

export type ServingCredentialsListener = (credentials: ServingCredentials, info: ServingCredentialsInfo) => void;

/**
 * Holds the current serving credentials and tells subscribers about replacements.
 *
 * @example
 * const serving = new ServingCredentialsSource({ certificateChainPem, privateKeyPem });
 * const server = await startIdentityGrpcServer({ ..., serving });
 * // later, after the service's certificate was renewed:
 * serving.update({ certificateChainPem: renewedPem, privateKeyPem: renewedKeyPem });
 */
export class ServingCredentialsSource {
  readonly #options: ServingCredentialsOptions;
  readonly #listeners = new Set<ServingCredentialsListener>();
  #current: ServingCredentials;
  #info: ServingCredentialsInfo;

  /** @throws TrustError when the initial credentials fail the checks. */
  constructor(initial: ServingCredentials, options: ServingCredentialsOptions = {}) {
    this.#options = options;
    this.#info = validateServingCredentials(initial, options);
    this.#current = { ...initial };
  }

  current(): ServingCredentials {
    return this.#current;
  }

  info(): ServingCredentialsInfo {
    return this.#info;
  }

  /**
   * Replaces the credentials for new TLS handshakes; open connections keep the old ones.
   * @throws TrustError, leaving the current credentials in force.
   */
  update(next: ServingCredentials): ServingCredentialsInfo {
    const info = validateServingCredentials(next, this.#options);
    this.#current = { ...next };
    this.#info = info;
    for (const listener of [...this.#listeners]) listener(this.#current, info);
    return info;
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: ServingCredentialsListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TrustError(`${what} contains no PEM certificate`);
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (cause) {
    throw new TrustError(`${what} contains a certificate that does not parse`, { cause });
  }
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

export function validateServingCredentials(
  credentials: ServingCredentials,
  options: ServingCredentialsOptions = {},
): ServingCredentialsInfo {
  const chain = parseCertificates(credentials.certificateChainPem, 'serving certificate chain');
  const leaf = chain[0]!;

  let key: KeyObject;
  try {
    key = createPrivateKey(credentials.privateKeyPem);
  } catch (cause) {
    throw new TrustError('serving private key does not parse', { cause });
  }
  if (!leaf.checkPrivateKey(key)) throw new TrustError('serving private key does not match the serving certificate');

  const now = (options.clock ?? systemClock).now().getTime();
  for (const cert of chain) {
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
      throw new TrustError(`serving certificate chain: "${cert.subject || cert.subjectAltName}" is not within its validity period`);
    }
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!signedBy(chain[i]!, chain[i + 1]!)) {
      throw new TrustError('serving certificate chain is out of order: each certificate must be signed by the next');
    }
  }

  if (options.verify) {
    const { trustBundlePem, serverIdentity } = options.verify;
    // Exact DNS SAN match, no wildcards and no CN fallback: what our client requires.
    if (!leaf.checkHost(serverIdentity, { subject: 'never', wildcards: false })) {
      throw new TrustError(`serving certificate is not for ${serverIdentity}`);
    }
    const anchors = parseCertificates(trustBundlePem, 'trust bundle');
    const top = chain[chain.length - 1]!;
    if (!anchors.some((anchor) => top.fingerprint256 === anchor.fingerprint256 || signedBy(top, anchor))) {
      throw new TrustError('serving certificate does not chain to the trust bundle');
    }
  }

  // grpc-js hands these to tls.Server#setSecureContext; if node refused them there, grpc-js would
  // drop every new connection. Build the context once here so that such a failure is ours to report.
  try {
    createSecureContext({ cert: credentials.certificateChainPem, key: credentials.privateKeyPem });
  } catch (cause) {
    throw new TrustError('serving credentials are not usable for TLS', { cause });
  }
  return { notAfter: new Date(leaf.validTo), fingerprint256: leaf.fingerprint256 };
}
