/**
 * One certify attempt, without scheduling or state: read the token, make a key, ask the identity
 * service, and check that the answer is a certificate for us and our key.
 */
import { readFile } from 'node:fs/promises';
import type { Clock } from '../../common/clock.ts';
import { buildCsr } from '../../identity/csr-builder.ts';
import type { CertifyClient } from '../../identity/grpc/client.ts';
import type { CertifyOutput } from '../../identity/grpc/codec.ts';
import { parseCertificate, type ParsedCertificate } from '../../trust-anchors/certificate.ts';
import { generateP256KeyPair, spkiDer, type KeyPair } from '../../trust-anchors/keys.ts';
import type { IssuedCredentials } from './types.ts';

/** Where an attempt failed; stable strings, usable as a metric label. */
export type RenewalStage = 'token' | 'bundle' | 'certify' | 'response' | 'sink' | 'stopped' | 'internal';

/** Why an attempt failed. The message is safe to log: it never carries the token or a key. */
export class IdentityRenewalError extends Error {
  readonly code = 'ERR_IDENTITY_RENEWAL' as const;
  readonly stage: RenewalStage;
  constructor(stage: RenewalStage, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityRenewalError';
    this.stage = stage;
  }
}

// A projected ServiceAccount token is about 1 KiB; anything far larger is not a token.
const MAX_TOKEN_BYTES = 64 * 1024;

/**
 * Reads the token file afresh: the kubelet rotates projected tokens in place, so a token read
 * once at start-up would expire under us.
 */
export async function readTokenFile(path: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new IdentityRenewalError('token', `cannot read the token file ${path} (${code})`, { cause: err });
  }
  // Trailing whitespace is never part of a JWT; hand-written files often end with a newline.
  const token = Buffer.from(raw.toString('latin1').trim(), 'latin1');
  if (token.length === 0) throw new IdentityRenewalError('token', `the token file ${path} is empty`);
  if (token.length > MAX_TOKEN_BYTES) {
    throw new IdentityRenewalError('token', `the token file ${path} holds ${token.length} bytes; a token is at most ${MAX_TOKEN_BYTES}`);
  }
  return token;
}

export interface CertifyAttemptInput {
  localIdentity: string;
  token: Uint8Array;
  client: CertifyClient;
  clock: Clock;
}

/**
 * Makes a fresh P-256 key (in memory only), sends a CSR for `localIdentity` and returns checked
 * credentials. A failed call throws with stage `certify`, a bad answer with stage `response`.
 */
export async function certifyOnce(input: CertifyAttemptInput): Promise<IssuedCredentials> {
  const keys = generateP256KeyPair();
  const csr = buildCsr(keys, input.localIdentity);
  let output: CertifyOutput;
  try {
    output = await input.client.certify({ identity: input.localIdentity, token: input.token, csr });
  } catch (err) {
    throw new IdentityRenewalError('certify', (err as Error).message, { cause: err });
  }
  return checkIssued(output, keys, input.localIdentity, input.clock.now());
}

/**
 * The client's own check of the answer before anything is published: the leaf parses, names
 * exactly our identity, carries our public key (so it cannot be someone else's certificate
 * replayed to us), and has not expired. The chain to the bundle is the sink's check.
 */
export function checkIssued(output: CertifyOutput, keys: KeyPair, localIdentity: string, now: Date): IssuedCredentials {
  const refuse = (why: string, cause?: unknown): never => {
    throw new IdentityRenewalError('response', `the identity service's answer is unusable: ${why}`, cause ? { cause } : undefined);
  };
  let leaf: ParsedCertificate;
  try {
    leaf = parseCertificate(output.leafDer, 'issued leaf');
  } catch (err) {
    return refuse('the leaf certificate does not parse', err);
  }
  if (leaf.dnsNames.length !== 1 || leaf.dnsNames[0] !== localIdentity) {
    refuse(`the leaf names [${leaf.dnsNames.join(', ')}], not exactly ${localIdentity}`);
  }
  if (!spkiDer(leaf.publicKey).equals(spkiDer(keys.publicKey))) refuse('the leaf does not carry the key we sent');
  if (leaf.notAfter.getTime() <= now.getTime()) refuse(`the leaf expired at ${leaf.notAfter.toISOString()}`);
  return {
    identity: localIdentity,
    leafDer: Buffer.from(output.leafDer),
    intermediatesDer: output.intermediatesDer.map((der) => Buffer.from(der)),
    privateKey: keys.privateKey,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serialHex: leaf.serialHex,
  };
}
