import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import {
  ABORT_CHECKPOINTS,
  abortRotation,
  FleetNotConvergedError,
  RotationOrderError,
  runRotation,
  runStep,
  type RotationCheckpoint,
} from '../../trust-anchors/rotation/index.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import type { TestHome } from '../support/home.ts';
import { anchorsOf, crashOnceAt, FakeProxy, opensslVerifies, rotationContext, SimulatedCrash, writeFleetFile } from './rotation-fakes.ts';
import { exists, homeWithFleet, stopFleetAndHome } from './rotation-setup.ts';

let home: TestHome;
let fleet: FakeProxy[] = [];

afterEach(() => stopFleetAndHome(fleet, home));


async function setUp() {
  ({ home, fleet } = await homeWithFleet());
}

/** Runs the rotation until it stops at `at` (a simulated crash). */
async function stopAt(at: RotationCheckpoint) {
  await expect(runRotation(rotationContext(home.home, home.store, { hooks: crashOnceAt(at) }))).rejects.toBeInstanceOf(SimulatedCrash);
}

/** Everything is as before the rotation: the old bundle and issuer, checked by openssl; proxies back on them; no leftovers. */
async function expectRestored() {
  const ctx = rotationContext(home.home, home.store);
  const last = (await ctx.stateFile.readLast())!;
  expect(last.outcome).toBe('aborted');
  const bundle = validateBundle(await home.store.readBundle(), new Date());
  expect(bundle.pem).toBe(home.bundle.pem);
  if (last.newAnchor) expect(anchorsOf(bundle.pem)).not.toContain(last.newAnchor.fingerprint);
  const issuer = validateIssuer(await home.store.readIssuer(), bundle, new Date());
  expect(issuer.certificate.fingerprint).toBe(home.issuer.certificate.fingerprint);
  expect(await opensslVerifies(bundle.pem, issuer.certificate.node.toString())).toBe(true);
  expect(anchorsOf((await ctx.keyring.current()).certificatePem)).toEqual([home.bundle.anchors[0]!.fingerprint]);
  for (const dir of [HomeLayout.nextAnchorDir, HomeLayout.previousIssuerDir, HomeLayout.rotationState]) {
    expect(await exists(join(home.home, dir))).toBe(false);
  }
  for (const p of fleet) {
    expect(p.bundleFingerprint).toBe(home.bundle.fingerprint);
    expect(p.certificateAnchor).toBe(home.bundle.anchors[0]!.fingerprint);
    expect(p.refusedBundles).toBe(0);
  }
  // a new rotation can start afterwards
  expect((await runRotation(rotationContext(home.home, home.store)))!.outcome).toBe('completed');
}

describe('abort before retire goes back to the old anchor', () => {
  it.each([
    ['prepare:started'],
    ['prepare:anchor-created'],
    ['prepare:done'],
    ['wait-bundle:done'],
    ['activate:previous-issuer-saved'],
    ['activate:issuer-written'],
    ['activate:done'],
    ['wait-reissue:done'],
  ] as [RotationCheckpoint][])('stopped at %s, then abort', async (at) => {
    await setUp();
    await stopAt(at);
    const ctx = rotationContext(home.home, home.store);
    const state = await abortRotation(ctx);
    expect(state.outcome).toBe('aborted');
    expect(ctx.lines.at(-1)).toMatch(/^abort: done; the old anchor is the only one trusted/);
    await expectRestored();
  });

  it('with the new issuer in service and proxies on it, the old issuer comes back and proxies renew before the bundle changes', async () => {
    await setUp();
    await stopAt('wait-reissue:done');
    const newAnchor = (await rotationContext(home.home, home.store).stateFile.read())!.newAnchor!.fingerprint;
    expect(fleet.every((p) => p.certificateAnchor === newAnchor)).toBe(true);
    const ctx = rotationContext(home.home, home.store);
    await abortRotation(ctx);
    const order = ctx.lines.filter((l) => /issuer .* is back|proxies hold a certificate from the old anchor$|published the old bundle/.test(l) || l.startsWith('abort: 3 of 3'));
    expect(order[0]).toContain('the issuer in service before the rotation is back');
    expect(order.findIndex((l) => l.includes('certificate from the old anchor'))).toBeLessThan(order.findIndex((l) => l.includes('published the old bundle')));
    await expectRestored();
  });

  it('during retire, before the new-only bundle is published (a proxy joined on the old anchor)', async () => {
    await setUp();
    // A proxy certified before the rotation that joins the fleet after wait-reissue and does not
    // renew: its certificate chains to the old anchor, so retire's check must hold before the
    // old anchor leaves the bundle (the proxy would refuse the new-only bundle: an outage for it).
    const late = await FakeProxy.start('late', home.store);
    late.following = false;
    await stopAt('wait-reissue:done');
    fleet.push(late);
    await writeFleetFile(home.home, fleet);
    const err = await runRotation(rotationContext(home.home, home.store, { options: { timeoutMs: 200 } })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FleetNotConvergedError);
    expect((err as Error).message).toContain('retire (check before publishing)');
    expect((err as Error).message).toContain('late: ');
    expect(anchorsOf((await home.store.readBundle()).pem)).toHaveLength(2); // still old + new: nothing retired
    late.following = true;
    await abortRotation(rotationContext(home.home, home.store));
    await expectRestored();
  });

  it.each(ABORT_CHECKPOINTS.map((c) => [c]))('abort stopped at %s, then re-run, finishes', async (at) => {
    await setUp();
    await stopAt('wait-reissue:done');
    await expect(abortRotation(rotationContext(home.home, home.store, { hooks: crashOnceAt(at) }))).rejects.toBeInstanceOf(SimulatedCrash);
    const ctx = rotationContext(home.home, home.store);
    await expect(runRotation(ctx)).rejects.toThrow(/an abort is in progress/);
    await expect(runStep(ctx, 'retire')).rejects.toThrow(/an abort is in progress/);
    await abortRotation(ctx);
    await expectRestored();
  });
});

describe('abort refused', () => {
  it('with no rotation in progress', async () => {
    await setUp();
    const err = await abortRotation(rotationContext(home.home, home.store)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RotationOrderError);
    expect((err as Error).message).toContain('nothing to abort');
  });

  it('once retire has published the new-only bundle', async () => {
    await setUp();
    await stopAt('retire:bundle-published');
    const err = await abortRotation(rotationContext(home.home, home.store)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RotationOrderError);
    expect((err as Error).message).toMatch(/retire has published the new-only bundle.*run "identity rotate-anchor" to finish/);
    expect((await runRotation(rotationContext(home.home, home.store)))!.outcome).toBe('completed');
  });
});
