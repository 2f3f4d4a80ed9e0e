import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import {
  EmptyFleetError,
  FleetNotConvergedError,
  planRotation,
  RotationInProgressError,
  RotationOrderError,
  runRotation,
  runStep,
  bundleFingerprintOfPem,
} from '../../trust-anchors/rotation/index.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { anchorsOf, hashTree, opensslVerifies, rotationContext, writeFleetFile, type FakeProxy } from './rotation-fakes.ts';
import { exists, homeWithFleet, stopFleetAndHome } from './rotation-setup.ts';

let home: TestHome;
let fleet: FakeProxy[] = [];

afterEach(() => stopFleetAndHome(fleet, home));

async function setUp(names?: string[]) {
  ({ home, fleet } = await homeWithFleet(names));
  return rotationContext(home.home, home.store);
}

const rejection = (p: Promise<unknown>) => p.then(() => expect.unreachable('should have failed'), (e: unknown) => e as Error);

describe('each step against a real home and fake proxies', () => {
  it('prepare: a new anchor beside the old one (key 0600), the bundle old + new, published; state persisted 0600', async () => {
    const ctx = await setUp();
    const oldAnchor = home.bundle.anchors[0]!.fingerprint;
    const state = (await runStep(ctx, 'prepare'))!;
    expect(state.completed).toBe('prepare');
    expect(state.oldAnchor.fingerprint).toBe(oldAnchor);
    expect((await stat(join(home.home, 'anchor-next', 'tls.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(home.home, HomeLayout.rotationState))).mode & 0o777).toBe(0o600);
    const bundle = (await home.store.readBundle()).pem;
    expect(anchorsOf(bundle)).toEqual([oldAnchor, state.newAnchor!.fingerprint]);
    expect(bundleFingerprintOfPem(bundle)).toBe(state.transitionBundleFingerprint);
    // the issuer in service is untouched and still valid against the transition bundle
    expect(validateIssuer(await home.store.readIssuer(), validateBundle(await home.store.readBundle(), new Date()), new Date()).anchor.fingerprint).toBe(oldAnchor);
    const saved = JSON.parse(await readFile(join(home.home, HomeLayout.rotationState), 'utf8'));
    expect(JSON.stringify(saved)).not.toContain('PRIVATE KEY');
  });

  it('wait-bundle: holds while one proxy has not picked up the bundle, naming it; goes on once it has', async () => {
    const ctx = await setUp();
    await runStep(ctx, 'prepare');
    fleet[1]!.following = false; // api never picks it up
    const err = await rejection(runStep(rotationContext(home.home, home.store, { options: { timeoutMs: 300 } }), 'wait-bundle'));
    expect(err).toBeInstanceOf(FleetNotConvergedError);
    expect(err.message).toMatch(/wait-bundle: after \d+s, 2 of 3 proxies hold bundle [0-9a-f]{16}… \(old \+ new anchors\); stragglers: api: holds bundle [0-9a-f]{16}… \(the old one\)/);
    expect((err as FleetNotConvergedError).stragglers.map((s) => s.name)).toEqual(['api']);
    expect(err.message).toContain('identity rotate-anchor abort');
    // paused, resumable: the state says wait-bundle is running, and activate is refused meanwhile
    const state = await ctx.stateFile.read();
    expect(state).toMatchObject({ completed: 'prepare', running: { step: 'wait-bundle' } });
    expect(await rejection(runStep(ctx, 'activate'))).toBeInstanceOf(RotationOrderError);
    fleet[1]!.following = true;
    expect((await runStep(ctx, 'wait-bundle'))!.completed).toBe('wait-bundle');
    expect(ctx.lines.at(-2)).toMatch(/^wait-bundle: 3 of 3 proxies hold bundle/);
  });

  it('wait-bundle: a proxy that does not answer is a straggler with the reason, never skipped', async () => {
    const ctx = await setUp();
    await runStep(ctx, 'prepare');
    await fleet[0]!.close();
    const err = await rejection(runStep(rotationContext(home.home, home.store, { options: { timeoutMs: 200 } }), 'wait-bundle'));
    expect(err.message).toContain('2 of 3 proxies');
    expect(err.message).toContain('web: unreachable: ECONNREFUSED');
    await fleet[0]!.listen(); // back on the same port
    expect((await runStep(ctx, 'wait-bundle'))!.completed).toBe('wait-bundle');
  });

  it('activate: keeps the issuer in service for abort, and writes a new one signed by the new anchor', async () => {
    const ctx = await setUp();
    await runStep(ctx, 'prepare');
    await runStep(ctx, 'wait-bundle');
    const before = await home.store.readIssuer();
    const state = (await runStep(ctx, 'activate'))!;
    const bundle = validateBundle(await home.store.readBundle(), new Date());
    const issuer = validateIssuer(await home.store.readIssuer(), bundle, new Date());
    expect(issuer.anchor.fingerprint).toBe(state.newAnchor!.fingerprint);
    expect(state.newIssuer!.fingerprint).toBe(issuer.certificate.fingerprint);
    expect(state.previousIssuer!.fingerprint).toBe(home.issuer.certificate.fingerprint);
    const kept = await ctx.keyring.previousIssuer();
    expect(kept!.certificatePem).toBe(before.certificatePem);
    expect((await stat(join(home.home, HomeLayout.previousIssuerDir, 'tls.key'))).mode & 0o777).toBe(0o600);
    expect(await opensslVerifies(bundle.pem, issuer.certificate.node.toString())).toBe(true);
    // proxies have not renewed yet: their certificates still chain to the old anchor
    expect(fleet.every((p) => p.certificateAnchor === state.oldAnchor.fingerprint)).toBe(true);
  });

  it('wait-reissue: asks every proxy to renew, and waits until each certificate chains to the new anchor', async () => {
    const ctx = await setUp();
    for (const step of ['prepare', 'wait-bundle', 'activate'] as const) await runStep(ctx, step);
    fleet[2]!.following = false; // db ignores renew requests for now
    const err = await rejection(runStep(rotationContext(home.home, home.store, { options: { timeoutMs: 300 } }), 'wait-reissue'));
    expect(err.message).toMatch(/2 of 3 proxies hold a certificate from the new anchor .*stragglers: db: certificate chains to anchor [0-9a-f]{16}…; asked to renew \d+ times/);
    fleet[2]!.following = true;
    const state = (await runStep(ctx, 'wait-reissue'))!;
    expect(fleet.every((p) => p.certificateAnchor === state.newAnchor!.fingerprint)).toBe(true);
    expect(fleet.every((p) => p.renewRequests >= 1)).toBe(true);
  });

  it('retire: the new anchor alone in the bundle, the old one archived and in no bundle, every proxy confirmed', async () => {
    const ctx = await setUp();
    const oldAnchor = home.bundle.anchors[0]!;
    const state = (await runRotation(ctx))!;
    expect(state.outcome).toBe('completed');
    const bundle = (await home.store.readBundle()).pem;
    expect(anchorsOf(bundle)).toEqual([state.newAnchor!.fingerprint]);
    expect(anchorsOf(bundle)).not.toContain(oldAnchor.fingerprint);
    expect(fleet.every((p) => p.bundleFingerprint === bundleFingerprintOfPem(bundle))).toBe(true);
    expect(fleet.every((p) => p.refusedBundles === 0)).toBe(true);
    // anchor/ is the new one, the old one archived with its key still 0600; the rotation's leftovers are gone
    expect((await ctx.keyring.current()).certificatePem).toContain('CERTIFICATE');
    expect(anchorsOf((await ctx.keyring.current()).certificatePem)).toEqual([state.newAnchor!.fingerprint]);
    const archived = (await readdir(home.home)).filter((e) => e.startsWith(HomeLayout.retiredAnchorPrefix));
    expect(archived).toEqual([state.retiredAnchorDir]);
    expect((await stat(join(home.home, archived[0]!, 'tls.key'))).mode & 0o777).toBe(0o600);
    expect(await exists(join(home.home, HomeLayout.nextAnchorDir))).toBe(false);
    expect(await exists(join(home.home, HomeLayout.previousIssuerDir))).toBe(false);
    expect(await exists(join(home.home, HomeLayout.rotationState))).toBe(false);
    expect((await ctx.stateFile.readLast())!.outcome).toBe('completed');
    // openssl: the new issuer verifies against the new bundle; the old issuer no longer does
    const issuer = await home.store.readIssuer();
    expect(await opensslVerifies(bundle, issuer.certificatePem)).toBe(true);
    expect(await opensslVerifies(bundle, home.issuer.certificate.node.toString())).toBe(false);
    expect(state.phases.map((p) => p.step)).toEqual(['prepare', 'wait-bundle', 'activate', 'wait-reissue', 'retire']);
    expect(ctx.lines.at(-1)).toMatch(/^rotation \S+ completed in [\d.]+s: prepare [\d.]+s, wait-bundle [\d.]+s, activate [\d.]+s, wait-reissue [\d.]+s, retire [\d.]+s$/);
    // a second rotation can follow
    expect((await runRotation(ctx))!.outcome).toBe('completed');
  });
});

describe('guards', () => {
  it('refuses a second prepare while a rotation is in progress, with a clear error', async () => {
    const ctx = await setUp();
    await runStep(ctx, 'prepare');
    const err = await rejection(runStep(ctx, 'prepare'));
    expect(err).toBeInstanceOf(RotationInProgressError);
    expect(err.message).toMatch(/an anchor rotation is already in progress \(\S+, has finished prepare\); run "identity rotate-anchor" to resume it/);
  });

  it('refuses a step out of order, and one with no rotation; a step already done is a no-op', async () => {
    const ctx = await setUp();
    expect((await rejection(runStep(ctx, 'activate'))).message).toContain('no anchor rotation is in progress');
    await runStep(ctx, 'prepare');
    const err = await rejection(runStep(ctx, 'activate'));
    expect(err).toBeInstanceOf(RotationOrderError);
    expect(err.message).toContain('the next step is wait-bundle');
    await runStep(ctx, 'wait-bundle');
    const bundleBefore = (await home.store.readBundle()).pem;
    await runStep(ctx, 'wait-bundle');
    expect(ctx.lines.at(-1)).toBe('wait-bundle: already done');
    expect((await home.store.readBundle()).pem).toBe(bundleBefore);
  });

  it('refuses to start with no fleet file or an empty fleet, before changing anything', async () => {
    const ctx = await setUp();
    await writeFleetFile(home.home, []);
    const before = await hashTree(home.home);
    expect(await rejection(runRotation(ctx))).toBeInstanceOf(EmptyFleetError);
    expect(await hashTree(home.home)).toEqual(before);
    const allowed = rotationContext(home.home, home.store, { options: { allowEmptyFleet: true } });
    expect((await runRotation(allowed))!.outcome).toBe('completed');
  });

  it('refuses a rotation whose anchor key is not in the bundle', async () => {
    const ctx = await setUp();
    const other = await makeTestHome();
    try {
      await home.store.writeAnchor(await other.store.readAnchor());
      expect((await rejection(runRotation(ctx))).message).toMatch(/the anchor in .*anchor .* is not in the trust bundle/);
      expect(await ctx.stateFile.read()).toBeUndefined();
    } finally {
      await other.cleanup();
    }
  });
});

describe('--dry-run', () => {
  it('plans every remaining step and changes nothing, before and during a rotation', async () => {
    const ctx = await setUp();
    const before = await hashTree(home.home);
    const plan = await planRotation(ctx);
    expect(plan[0]).toBe('no rotation in progress; it would start one');
    expect(plan.join('\n')).toMatch(/prepare:\n {2}would create a new trust anchor "root.linkerd.cluster.local"/);
    expect(plan.join('\n')).toContain('3 proxies listed in');
    expect(plan.filter((l) => l.endsWith(':'))).toEqual(['prepare:', 'wait-bundle:', 'activate:', 'wait-reissue:', 'retire:']);
    expect(await hashTree(home.home)).toEqual(before);

    await runStep(ctx, 'prepare');
    const during = await hashTree(home.home);
    const resumed = await planRotation(ctx);
    expect(resumed[0]).toMatch(/in progress; it would resume at wait-bundle/);
    expect(await planRotation(ctx, 'wait-bundle')).toHaveLength(2);
    expect(await hashTree(home.home)).toEqual(during);
  });
});
