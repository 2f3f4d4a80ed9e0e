import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock.ts';
import { ExitCode } from '../../common/errors.ts';
import { initHome } from '../../trust-anchors/home.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeTestHome, testDomain } from '../support/home.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const serveArgs = (home: string) => ['serve', '--home', home, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'];

describe('identity init, bundle, token', () => {
  it('creates a home with 0600 keys, refuses to overwrite it, and prints the bundle', async () => {
    const home = join(dir, 'fresh');
    const first = await runCli(['init', '--home', home, '--trust-domain', 'example.org', '--issuer-lifetime', '30d']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created identity home');
    for (const key of ['issuer/tls.key', 'anchor/tls.key', 'token-signing.key']) {
      expect((await stat(join(home, key))).mode & 0o777).toBe(0o600);
    }
    const again = await runCli(['init', '--home', home]);
    expect(again.code).toBe(ExitCode.CANT_CREATE);
    expect(again.stderr).toContain('--force');
    const bundle = await runCli(['bundle', '--home', home]);
    expect(bundle.code).toBe(0);
    expect(bundle.stdout).toBe(await readFile(join(home, 'bundle.crt'), 'utf8'));
  });

  it('uses $IDENTITY_HOME when --home is absent, and prints a token', async () => {
    const home = join(dir, 'from-env');
    expect((await runCli(['init'], { env: { IDENTITY_HOME: home } })).code).toBe(0);
    const token = await runCli(['token', '--namespace', 'demo', '--service-account', 'web'], { env: { IDENTITY_HOME: home } });
    expect(token.code).toBe(0);
    const payload = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ sub: 'system:serviceaccount:demo:web', aud: 'identity.l5d.io', 'kubernetes.io': { namespace: 'demo', serviceaccount: { name: 'web' } } });
  });

  it('refuses bad flags with a usage error', async () => {
    const bad = await runCli(['init', '--home', join(dir, 'bad'), '--anchor-lifetime', 'forever']);
    expect(bad.code).toBe(ExitCode.USAGE);
    expect(bad.stderr).toContain('is not a duration');
  });
});

describe('identity serve refuses to start on bad trust material, with a clear error', () => {
  it('fail/home missing', async () => {
    const r = await runCli(serveArgs(join(dir, 'nowhere')));
    expect(r.code).toBe(ExitCode.NO_INPUT);
    expect(r.stderr).toMatch(/no identity home at .*nowhere.*identity init/);
  });

  it('fail/issuer key corrupt', async () => {
    const t = await makeTestHome();
    try {
      await writeFile(join(t.home, 'issuer', 'tls.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
      const r = await runCli(serveArgs(t.home));
      expect(r.code).toBe(ExitCode.CONFIG);
      expect(r.stderr).toMatch(/issuer\/tls\.crt \(tls\.key\): the private key does not parse/);
    } finally {
      await t.cleanup();
    }
  });

  it('fail/issuer not signed by the anchor', async () => {
    const t = await makeTestHome();
    const other = await makeTestHome();
    try {
      await t.store.writeIssuer(await other.store.readIssuer());
      const r = await runCli(serveArgs(t.home));
      expect(r.code).toBe(ExitCode.CONFIG);
      expect(r.stderr).toContain('does not chain to any trust anchor of the bundle');
    } finally {
      await t.cleanup();
      await other.cleanup();
    }
  });

  it('fail/issuer expired', async () => {
    const home = join(dir, 'expired');
    // Made two days ago with a one-day issuer: expired since yesterday.
    await initHome({ home, domain: testDomain, anchorLifetimeMs: 365 * 86_400_000, issuerLifetimeMs: 86_400_000, force: false, clock: new ManualClock(Date.now() - 2 * 86_400_000) });
    const r = await runCli(serveArgs(home));
    expect(r.code).toBe(ExitCode.CONFIG);
    expect(r.stderr).toMatch(/expired at .*rotate-issuer/);
  });
});

describe('identity check', () => {
  it('passes a fresh home and a live service, and fails --fail-within when the issuer expires sooner', async () => {
    const t = await makeTestHome({ issuerLifetimeMs: 10 * 86_400_000 });
    const server = startCli(serveArgs(t.home));
    try {
      const out = await server.waitFor(/"listen":"127\.0\.0\.1:(\d+)"/);
      const port = /"listen":"127\.0\.0\.1:(\d+)"/.exec(out)![1]!;
      const ok = await runCli(['check', '--home', t.home, '--addr', `127.0.0.1:${port}`, '-o', 'json']);
      const report = JSON.parse(ok.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
      expect(ok.code).toBe(0);
      expect(report.ok).toBe(true);
      expect(report.checks.find((c) => c.name === 'issuer expiry')?.status).toBe('warn'); // 10 days < 60
      expect(report.checks.some((c) => c.name.startsWith('identity service at') && c.status === 'pass')).toBe(true);

      const strict = await runCli(['check', '--home', t.home, '--fail-within', '30d']);
      expect(strict.code).toBe(ExitCode.FAILURE);
      expect(strict.stdout).toMatch(/× issuer expiry/);
    } finally {
      expect(await server.stop()).toBe(0);
      await t.cleanup();
    }
  });

  it('fails when nothing answers at --addr', async () => {
    const t = await makeTestHome();
    try {
      const r = await runCli(['check', '--home', t.home, '--addr', '127.0.0.1:1']);
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stdout).toContain('cannot connect');
    } finally {
      await t.cleanup();
    }
  });
});

describe('identity ledger verify', () => {
  it('detects an edited record', async () => {
    const t = await makeTestHome();
    const server = startCli(serveArgs(t.home));
    try {
      await server.waitFor(/identity service ready/);
      expect(await server.stop()).toBe(0);
      // The local mesh issues certificates to two proxies, recorded in this home's ledger.
      const mesh = await runCli(['mesh', '--home', t.home, '--once', '--identity-listen', '127.0.0.1:0', '--identity-admin-listen', '127.0.0.1:0'], { timeoutMs: 120_000 });
      expect(mesh.code).toBe(0);
      const path = join(t.home, 'ledger.jsonl');
      expect((await runCli(['ledger', 'verify', '--home', t.home])).code).toBe(0);
      const text = await readFile(path, 'utf8');
      await writeFile(path, text.replace(/"identity":"(web|api)\./, '"identity":"evil.'));
      const r = await runCli(['ledger', 'verify', '--home', t.home]);
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stdout).toMatch(/line 1: hash-mismatch/);
    } finally {
      await server.stop();
      await t.cleanup();
    }
  });
});
