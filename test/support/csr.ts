import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { webcrypto } from 'node:crypto';
import * as x509 from '../../trust-anchors/x509.ts';

const run = promisify(execFile);

export type TestKeyType = 'p256' | 'p384' | 'rsa';

export interface TestCsrOptions {
  keyType?: TestKeyType;
  commonName?: string;
  dns?: string[];
  ips?: string[];
  uris?: string[];
  emails?: string[];
  /** Flip a byte of the signature so that it no longer verifies. */
  corruptSignature?: boolean;
}

const algorithms = {
  p256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  p384: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
  rsa: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
} as const;

/** A DER CSR built with @peculiar/x509, able to break every rule the authority enforces. */
export async function makeCsr(options: TestCsrOptions = {}): Promise<Buffer> {
  const alg = algorithms[options.keyType ?? 'p256'];
  const keys = (await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      ...(options.commonName !== undefined ? { name: `CN=${options.commonName}` } : {}),
      keys,
      signingAlgorithm: alg,
      extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
    },
    webcrypto,
  );
  const der = Buffer.from(csr.rawData);
  if (options.corruptSignature) der[der.length - 5] ^= 0x01;
  return der;
}

/** A CSR made by `openssl req`: P-256, one DNS SAN, an empty subject. Returns DER. */
export async function makeOpensslCsr(dnsName: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'openssl-csr-'));
  try {
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'key.pem')]);
    await run('openssl', [
      'req', '-new', '-key', join(dir, 'key.pem'), '-subj', '/', '-addext', `subjectAltName=DNS:${dnsName}`,
      '-outform', 'DER', '-out', join(dir, 'csr.der'),
    ]);
    return await readFile(join(dir, 'csr.der'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs openssl with the given files written to a temporary directory; returns stdout. */
export async function openssl(args: (dir: string) => string[], files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const { stdout } = await run('openssl', args(dir));
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
