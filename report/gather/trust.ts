/**
 * The trust bundle and the issuer's certificate from a home, read as they are: an expired or
 * broken chain is what the report is there to show, so nothing here refuses it. The issuer's
 * private key is never read.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleFingerprint } from '../../trust-anchors/trust.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import type { ParsedCertificate } from '../../trust-anchors/certificate.ts';
import { decodeCertificates } from '../../trust-anchors/pem.ts';
import { parseCertificate } from '../../trust-anchors/certificate.ts';
import type { TrustInput } from '../inputs.ts';
import { certificateFacts, chainsTo, readCertificates } from './certificates.ts';

export async function gatherTrust(home: string): Promise<TrustInput> {
  const bundleSource = join(home, HomeLayout.bundle);
  let anchors: ParsedCertificate[] = [];
  let bundleError: string | null = null;
  try {
    anchors = await readCertificates(bundleSource);
  } catch (err) {
    bundleError = describeError(err);
  }
  const input: TrustInput = {
    bundleSource,
    anchors: anchors.map(certificateFacts),
    bundleFingerprint: anchors.length ? bundleFingerprint(anchors) : null,
    bundleError,
    issuer: null,
    issuerError: null,
  };
  const issuerDir = join(home, HomeLayout.issuerDir);
  try {
    const [issuer, ...chain] = await readCertificates(join(issuerDir, 'tls.crt'));
    const hint = await readFile(join(issuerDir, 'ca.crt'), 'utf8').catch(() => '');
    const extra = hint.trim() ? decodeCertificates(hint, join(issuerDir, 'ca.crt')).map((der, i) => parseCertificate(der, `ca.crt (certificate ${i + 1})`)) : [];
    input.issuer = { ...certificateFacts(issuer!), chainsTo: chainsTo(issuer!, [...chain, ...extra], anchors)?.fingerprint ?? null };
  } catch (err) {
    input.issuerError = describeError(err);
  }
  return input;
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return `${e.path ?? 'file'} does not exist`;
  return e instanceof Error ? e.message : String(err);
}
