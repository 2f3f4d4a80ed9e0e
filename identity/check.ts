import { connect, type PeerCertificate } from 'node:tls';
import type { Clock } from '../common/clock.ts';
import { formatDuration } from '../common/duration.ts';
import { NotFoundError } from '../common/errors.ts';
import { identityName, identityServiceAccount, type IdentityDomain } from '../common/names.ts';
import { assertCertificateAuthority, assertWithinValidity, parseCertificate, verifyPath, type ParsedCertificate } from '../trust-anchors/certificate.ts';
import { decodeCertificates } from '../trust-anchors/pem.ts';
import type { TrustStore } from '../trust-anchors/store.ts';
import { bundleFingerprint, validateIssuer, type TrustBundle } from '../trust-anchors/trust.ts';
import { verifyLedger } from './ledger/index.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface CheckOptions {
  store: TrustStore;
  domain: IdentityDomain;
  clock: Clock;
  /** Warn when anything expires sooner than this (linkerd check uses 60 days). */
  warnWithinMs: number;
  /** Fail when anything expires sooner than this; for CI and cron. */
  failWithinMs?: number;
  ledgerPath?: string;
  /** host:port of a running identity service to probe. */
  address?: { host: string; port: number };
  timeoutMs?: number;
}

/**
 * The identity section of `linkerd check`, and what it misses: each check reports pass, warn or
 * fail with its evidence, and near-expiry can fail (Linkerd only warns, its issue 9612).
 */
export async function runIdentityChecks(options: CheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const now = options.clock.now();
  const expiry = (what: string, cert: ParsedCertificate): CheckResult => expiryCheck(what, cert, now, options);

  let bundle: TrustBundle | undefined;
  try {
    const stored = await options.store.readBundle();
    const anchors = decodeCertificates(stored.pem, stored.source).map((der, i) => parseCertificate(der, `${stored.source} (certificate ${i + 1})`));
    results.push({ name: 'trust anchors parse', status: 'pass', detail: `${anchors.length} anchor(s) in ${stored.source}` });
    anchors.forEach((anchor, i) => {
      const where = `${stored.source} (certificate ${i + 1})`;
      results.push(attempt(`trust anchor ${i + 1} is a CA within its validity`, () => {
        assertCertificateAuthority(anchor, where);
        assertWithinValidity(anchor, now, where);
        return `${anchor.subject}, valid ${anchor.notBefore.toISOString()} to ${anchor.notAfter.toISOString()}`;
      }));
      results.push(expiry(`trust anchor ${i + 1} expiry`, anchor));
    });
    bundle = { pem: stored.pem, anchors, fingerprint: bundleFingerprint(anchors), source: stored.source };
  } catch (err) {
    results.push({ name: 'trust anchors parse', status: 'fail', detail: (err as Error).message, hint: 'restore the bundle or re-run identity init' });
  }

  if (bundle) {
    const trusted = bundle;
    try {
      const issuer = validateIssuer(await options.store.readIssuer(), trusted, now);
      results.push({
        name: 'issuer is a CA signed by a trust anchor, and its key matches',
        status: 'pass',
        detail: `${issuer.certificate.subject} chains to ${issuer.anchor.subject}; key is ECDSA P-256 and matches`,
      });
      results.push(expiry('issuer expiry', issuer.certificate));
    } catch (err) {
      results.push({ name: 'issuer is a CA signed by a trust anchor, and its key matches', status: 'fail', detail: (err as Error).message, hint: 'identity rotate-issuer makes a valid one' });
    }
  }

  if (options.ledgerPath) results.push(await ledgerCheck(options.ledgerPath));
  if (options.address && bundle) results.push(await serviceCheck(options, bundle));
  return results;
}

function attempt(name: string, fn: () => string): CheckResult {
  try {
    return { name, status: 'pass', detail: fn() };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message };
  }
}

function expiryCheck(what: string, cert: ParsedCertificate, now: Date, options: CheckOptions): CheckResult {
  const left = cert.notAfter.getTime() - now.getTime();
  const detail = `${cert.subject} expires ${cert.notAfter.toISOString()} (${left > 0 ? `in ${formatDuration(left)}` : 'expired'})`;
  if (left <= 0) return { name: what, status: 'fail', detail, hint: 'rotate it now' };
  if (options.failWithinMs !== undefined && left < options.failWithinMs) {
    return { name: what, status: 'fail', detail: `${detail}, within --fail-within ${formatDuration(options.failWithinMs)}`, hint: 'rotate it before it expires' };
  }
  if (left < options.warnWithinMs) {
    return { name: what, status: 'warn', detail: `${detail}, within ${formatDuration(options.warnWithinMs)}`, hint: 'plan a rotation' };
  }
  return { name: what, status: 'pass', detail };
}

async function ledgerCheck(path: string): Promise<CheckResult> {
  const name = 'issuance ledger chain intact';
  try {
    const report = await verifyLedger(path);
    if (report.ok) return { name, status: 'pass', detail: `${report.count} record(s) in ${path}, chain and checkpoint verified` };
    const first = report.errors[0];
    return { name, status: 'fail', detail: `${path}: ${report.errors.length} problem(s); first at line ${first?.line}: ${first?.message}`, hint: 'run identity ledger verify for all of them' };
  } catch (err) {
    if (err instanceof NotFoundError) return { name, status: 'skip', detail: `no ledger at ${path} yet (nothing issued)` };
    return { name, status: 'fail', detail: (err as Error).message };
  }
}

/** Connects to the service with TLS and checks its certificate: chains to the bundle, names the service's identity. */
async function serviceCheck(options: CheckOptions, bundle: TrustBundle): Promise<CheckResult> {
  const { host, port } = options.address!;
  const identity = identityName(identityServiceAccount(options.domain), options.domain);
  const name = `identity service at ${host}:${port} answers as ${identity}`;
  try {
    const chain = await fetchPeerChain(host, port, identity, options.timeoutMs ?? 5_000);
    const [leaf, ...rest] = chain.map((der, i) => parseCertificate(der, `certificate ${i + 1} presented by ${host}:${port}`));
    if (!leaf) throw new Error('the service presented no certificate');
    verifyPath(leaf, rest, bundle.anchors, options.clock.now(), `${host}:${port}`);
    if (leaf.dnsNames.length !== 1 || leaf.dnsNames[0] !== identity) {
      throw new Error(`the service presented a certificate for ${leaf.dnsNames.join(', ') || 'no DNS name'}`);
    }
    return { name, status: 'pass', detail: `presents ${identity}, valid until ${leaf.notAfter.toISOString()}, chains to the bundle` };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message, hint: 'is identity serve running there, with this home?' };
  }
}

function fetchPeerChain(host: string, port: number, servername: string, timeoutMs: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    // The chain is verified by verifyPath above, with our own rules; here we only collect it.
    const socket = connect({ host, port, servername, ALPNProtocols: ['h2'], rejectUnauthorized: false, timeout: timeoutMs });
    socket.once('secureConnect', () => {
      const chain: Buffer[] = [];
      let cert: PeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(cert.raw);
        cert = (cert as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
      }
      socket.destroy();
      resolve(chain);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no TLS answer within ${timeoutMs} ms`));
    });
    socket.once('error', (err) => reject(new Error(`cannot connect: ${err.message}`)));
  });
}
