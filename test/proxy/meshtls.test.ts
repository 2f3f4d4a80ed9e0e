import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../common/clock.ts';
import { TrustError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { identityName } from '../../common/names.ts';
import { BundleFileWatcher, readBundleFile } from '../../proxy/meshtls/bundle-file.ts';
import { CredentialStore } from '../../proxy/meshtls/store.ts';
import { validateBundle, type TrustBundle } from '../../trust-anchors/trust.ts';
import { makeTestHome, testDomain, type TestHome } from '../support/home.ts';
import { issueCredentials } from './support/pki.ts';

const WEB = identityName({ namespace: 'demo', name: 'web' }, testDomain);
const API = identityName({ namespace: 'demo', name: 'api' }, testDomain);

let home: TestHome;
let other: TestHome; // another trust domain's anchor and issuer
let both: TrustBundle;

beforeAll(async () => {
  [home, other] = await Promise.all([makeTestHome(), makeTestHome()]);
  both = validateBundle({ pem: home.bundle.pem + other.bundle.pem, source: 'both' }, new Date());
});
afterAll(async () => {
  await home?.cleanup();
  await other?.cleanup();
});

const newStore = (bundle: TrustBundle = home.bundle, logger = silentLogger) =>
  new CredentialStore({ localIdentity: WEB, bundle, clock: systemClock, logger });

describe('CredentialStore: certificates', () => {
  it('publishes contexts for a certificate that chains to the bundle and names this proxy', () => {
    const store = newStore();
    const changes: string[] = [];
    store.onChange((c) => changes.push(c.kind));
    expect(store.snapshot().tls).toBeUndefined();
    const credentials = issueCredentials(home.issuer, WEB);
    store.sink(credentials);
    const tls = store.snapshot().tls!;
    expect(tls.leaf.serialHex).toBe(credentials.serialHex);
    expect(tls.server).toBeDefined();
    expect(tls.client).not.toBe(tls.server);
    expect(changes).toEqual(['credentials']);
  });

  it.each([
    ['fail/other-identity', () => issueCredentials(home.issuer, API), /issued for api/],
    ['fail/san-not-ours', () => ({ ...issueCredentials(home.issuer, API), identity: WEB }), /DNS SANs are \[api/],
    ['fail/other-ca', () => issueCredentials(other.issuer, WEB), /does not chain/],
    ['fail/wrong-key', () => ({ ...issueCredentials(home.issuer, WEB), privateKey: issueCredentials(home.issuer, WEB).privateKey }), /private key does not match/],
  ])('%s is refused and the certificate in force stays', (_name, make, message) => {
    const store = newStore();
    const good = issueCredentials(home.issuer, WEB);
    store.sink(good);
    expect(() => store.sink(make())).toThrow(message);
    expect(store.snapshot().tls!.credentials).toBe(good);
  });

  it('refuses an expired certificate', () => {
    const clock = new ManualClock(Date.now() + 2 * 3_600_000);
    const store = new CredentialStore({ localIdentity: WEB, bundle: home.bundle, clock, logger: silentLogger });
    expect(() => store.sink(issueCredentials(home.issuer, WEB, { lifetimeMs: 3_600_000 }))).toThrow(/expired/);
  });
});

describe('CredentialStore: bundles', () => {
  it('refuses a bundle that lacks the anchor of its own certificate', () => {
    const store = newStore();
    store.sink(issueCredentials(home.issuer, WEB));
    expect(() => store.applyBundle(other.bundle)).toThrow(TrustError);
    expect(store.bundle().fingerprint).toBe(home.bundle.fingerprint);
  });

  it('applies a bundle its certificate chains to, rebuilding the contexts', () => {
    const store = newStore();
    store.sink(issueCredentials(home.issuer, WEB));
    const before = store.snapshot().tls!;
    store.applyBundle(both);
    const after = store.snapshot().tls!;
    expect(store.bundle().fingerprint).toBe(both.fingerprint);
    expect(after.server).not.toBe(before.server);
    expect(after.credentials).toBe(before.credentials);
    // With both anchors trusted, a certificate from the other issuer is now acceptable.
    store.sink(issueCredentials(other.issuer, WEB));
  });

  it('takes any valid bundle before the first certificate', () => {
    const store = newStore();
    store.applyBundle(other.bundle);
    expect(store.bundle().fingerprint).toBe(other.bundle.fingerprint);
  });
});

describe('BundleFileWatcher', () => {
  it('applies, refuses and rejects file changes; logs old and new fingerprints; judges each once', async () => {
    const path = join(home.home, 'proxy-bundle.crt');
    await writeFile(path, home.bundle.pem);
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) }),
    );
    const initial = await readBundleFile(path, new Date());
    const store = newStore(initial.bundle, logger);
    store.sink(issueCredentials(home.issuer, WEB));
    const results: string[] = [];
    const watcher = new BundleFileWatcher({ path, initialText: initial.text, store, clock: systemClock, logger, intervalMs: 60_000, onResult: (r) => results.push(r) });

    expect(await watcher.checkNow()).toBe('unchanged');

    await writeFile(path, 'not a bundle');
    expect(await watcher.checkNow()).toBe('invalid');
    expect(await watcher.checkNow()).toBe('unchanged'); // the same bad file is reported once

    await writeFile(path, other.bundle.pem);
    expect(await watcher.checkNow()).toBe('refused');
    expect(store.bundle().fingerprint).toBe(home.bundle.fingerprint);

    await writeFile(path, `# anchors of both domains\n${home.bundle.pem}${other.bundle.pem}`);
    expect(await watcher.checkNow()).toBe('applied');
    expect(store.bundle().fingerprint).toBe(both.fingerprint);
    expect(results).toEqual(['invalid', 'refused', 'applied']);

    const byEvent = (event: string) => lines.find((l) => l.event === event)!;
    expect(byEvent('meshtls.bundle_invalid')).toMatchObject({ level: 50, old: home.bundle.fingerprint });
    expect(byEvent('meshtls.bundle_refused')).toMatchObject({ level: 50, old: home.bundle.fingerprint, new: other.bundle.fingerprint });
    expect(byEvent('meshtls.bundle_applied')).toMatchObject({ level: 30, old: home.bundle.fingerprint, new: both.fingerprint });
    watcher.close();
  });

  it('notices a changed file by polling, without being asked', async () => {
    const path = join(home.home, 'polled-bundle.crt');
    await writeFile(path, home.bundle.pem);
    const initial = await readBundleFile(path, new Date());
    const store = newStore(initial.bundle);
    let onApplied!: () => void;
    const applied = new Promise<void>((resolve) => (onApplied = resolve));
    const watcher = new BundleFileWatcher({ path, initialText: initial.text, store, clock: systemClock, logger: silentLogger, intervalMs: 20, onResult: (r) => r === 'applied' && onApplied() });
    watcher.start();
    try {
      await writeFile(path, home.bundle.pem + other.bundle.pem);
      await applied;
      expect(store.bundle().fingerprint).toBe(both.fingerprint);
    } finally {
      watcher.close();
    }
  });

  it('refuses to start from a missing or invalid file', async () => {
    await expect(readBundleFile(join(home.home, 'missing.crt'), new Date())).rejects.toThrow(/cannot be read/);
    const bad = join(home.home, 'bad.crt');
    await writeFile(bad, 'garbage');
    await expect(readBundleFile(bad, new Date())).rejects.toThrow(TrustError);
  });
});
