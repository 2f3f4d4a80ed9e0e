import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../common/clock.ts';
import { AlreadyExistsError, ConfigError, NotFoundError, TrustError } from '../common/errors.ts';
import { assertServiceAccountRef, type IdentityDomain } from '../common/names.ts';
import { createIssuer, createTrustAnchor } from './certificates.ts';
import { DirectoryTrustStore, HomeLayout, writeFileAtomic } from './directory-store.ts';
import { describeCertificate } from './certificate.ts';
import { generateP256KeyPair, privateKeyToPem, spkiDer } from './keys.ts';
import type { StoredIssuer } from './store.ts';
import { validateBundle, validateIssuer, type Issuer, type TrustBundle } from './trust.ts';

export const DEFAULT_ANCHOR_LIFETIME_MS = 365 * 86_400_000;
export const DEFAULT_ISSUER_LIFETIME_MS = 180 * 86_400_000;

/** What a home knows about the mesh it serves; written by `init`, read by every command. */
export interface HomeConfig extends IdentityDomain {
  version: 1;
  createdAt: string;
}

export async function readHomeConfig(home: string): Promise<HomeConfig> {
  const path = join(home, HomeLayout.config);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`no identity home at ${home} (${path} is missing); run "identity init --home ${home}" first`);
    }
    throw err;
  }
  let parsed: Partial<HomeConfig>;
  try {
    parsed = JSON.parse(text) as Partial<HomeConfig>;
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON; restore it or re-run "identity init --force"`, { cause: err });
  }
  if (parsed.version !== 1 || typeof parsed.trustDomain !== 'string' || typeof parsed.controlPlaneNamespace !== 'string') {
    throw new ConfigError(`${path} lacks version 1, trustDomain or controlPlaneNamespace; re-run "identity init --force"`);
  }
  return parsed as HomeConfig;
}

export interface InitOptions {
  home: string;
  domain: IdentityDomain;
  anchorLifetimeMs: number;
  issuerLifetimeMs: number;
  force: boolean;
  clock: Clock;
}

export interface InitResult {
  bundle: TrustBundle;
  issuer: Issuer;
}

/**
 * Creates a home: a trust anchor, an issuer signed by it, the bundle, a token-signing key for
 * the local mode, and the home's configuration. Refuses an existing home unless `force`.
 */
export async function initHome(options: InitOptions): Promise<InitResult> {
  const { home, domain, clock } = options;
  assertDomain(domain);
  if (options.issuerLifetimeMs <= 0 || options.anchorLifetimeMs <= 0) {
    throw new ConfigError('lifetimes must be positive durations');
  }
  const exists = await access(join(home, HomeLayout.config)).then(
    () => true,
    () => false,
  );
  if (exists && !options.force) {
    throw new AlreadyExistsError(`${home} already holds an identity home; pass --force to replace it (the old anchor will no longer be trusted)`);
  }
  await mkdir(home, { recursive: true, mode: 0o700 });
  if (options.force) {
    for (const dir of [HomeLayout.issuerDir, HomeLayout.anchorDir]) await rm(join(home, dir), { recursive: true, force: true });
  }
  const anchor = await createTrustAnchor({
    commonName: `root.${domain.controlPlaneNamespace}.${domain.trustDomain}`,
    lifetimeMs: options.anchorLifetimeMs,
    clock,
  });
  const issuer = await createIssuer({
    commonName: `identity.${domain.controlPlaneNamespace}.${domain.trustDomain}`,
    lifetimeMs: options.issuerLifetimeMs,
    clock,
    signer: anchor,
  });
  const store = new DirectoryTrustStore(home);
  await store.writeAnchor({ certificatePem: anchor.certificatePem, privateKeyPem: privateKeyToPem(anchor.keys.privateKey), caPem: '' });
  await store.writeIssuer({
    certificatePem: issuer.certificatePem,
    privateKeyPem: privateKeyToPem(issuer.keys.privateKey),
    caPem: anchor.certificatePem,
  });
  await store.writeBundle(anchor.certificatePem);
  await writeFileAtomic(join(home, HomeLayout.tokenKey), privateKeyToPem(generateP256KeyPair().privateKey), 0o600);
  const config: HomeConfig = { version: 1, ...domain, createdAt: clock.now().toISOString() };
  await writeFileAtomic(join(home, HomeLayout.config), `${JSON.stringify(config, null, 2)}\n`, 0o644);

  const now = clock.now();
  const bundle = validateBundle(await store.readBundle(), now);
  return { bundle, issuer: validateIssuer(await store.readIssuer(), bundle, now) };
}

/** True when `home` holds an identity home (its config.json exists). */
export async function homeExists(home: string): Promise<boolean> {
  return access(join(home, HomeLayout.config)).then(
    () => true,
    () => false,
  );
}

/** An existing home's configuration, issuer and bundle, validated: what it can publish. */
export interface HomeTrust {
  config: HomeConfig;
  bundle: TrustBundle;
  issuer: Issuer;
  /** The issuer as stored (tls.crt, tls.key, and ca.crt: the anchor's certificate). */
  storedIssuer: StoredIssuer;
}

/**
 * Reads and validates the issuer and bundle of an existing home, for publishing them elsewhere
 * (`identity init --kubernetes`): the issuer must chain to the bundle and be within validity now.
 * Refuses an issuer whose key is a trust anchor's: publishing it would put the anchor key there.
 */
export async function readHomeTrust(home: string, clock: Clock): Promise<HomeTrust> {
  const config = await readHomeConfig(home);
  const store = new DirectoryTrustStore(home);
  const now = clock.now();
  const bundle = validateBundle(await store.readBundle(), now);
  const storedIssuer = await store.readIssuer();
  const issuer = validateIssuer(storedIssuer, bundle, now);
  const issuerKey = spkiDer(issuer.certificate.publicKey);
  const anchor = bundle.anchors.find((a) => a.fingerprint === issuer.certificate.fingerprint || spkiDer(a.publicKey).equals(issuerKey));
  if (anchor) {
    throw new TrustError(
      `${issuer.source}: the issuer's key is the key of the trust anchor ${describeCertificate(anchor)}; ` +
        'refusing to publish it (the anchor key must stay in the home). Make an issuer with "identity rotate-issuer"',
    );
  }
  return { config, bundle, issuer, storedIssuer };
}

function assertDomain(domain: IdentityDomain): void {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(domain.trustDomain)) {
    throw new ConfigError(`trust domain "${domain.trustDomain}" is not a DNS name (e.g. cluster.local)`);
  }
  try {
    assertServiceAccountRef({ namespace: domain.controlPlaneNamespace, name: 'identity' });
  } catch {
    throw new ConfigError(`control-plane namespace "${domain.controlPlaneNamespace}" is not a valid DNS label`);
  }
}
