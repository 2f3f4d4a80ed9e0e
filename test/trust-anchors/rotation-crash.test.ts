import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import {
  bundleFingerprintOfPem,
  ROTATION_CHECKPOINTS,
  ROTATION_LOCK,
  ROTATION_STEPS,
  RotationInProgressError,
  runRotation,
  runStep,
  withRotationLock,
} from '../../trust-anchors/rotation/index.ts';
import { validateBundle, validateIssuer } from '../../trust-anchors/trust.ts';
import { makeTestHome, type TestHome } from '../support/home.ts';
import { anchorsOf, crashOnceAt, opensslVerifies, rotationContext, SimulatedCrash, type FakeProxy } from './rotation-fakes.ts';
import { exists, homeWithFleet, stopFleetAndHome } from './rotation-setup.ts';

let home: TestHome;
let fleet: FakeProxy[] = [];

afterEach(() => stopFleetAndHome(fleet, home));


/** What a finished rotation must look like, however many runs it took. */
async function expectCompleted(oldAnchor: string, newAnchor?: string) {
  const ctx = rotationContext(home.home, home.store);
  const last = (await ctx.stateFile.readLast())!;
  expect(last.outcome).toBe('completed');
  if (newAnchor) expect(last.newAnchor!.fingerprint).toBe(newAnchor);
  const bundle = validateBundle(await home.store.readBundle(), new Date());
  expect(anchorsOf(bundle.pem)).toEqual([last.newAnchor!.fingerprint]);
  expect(anchorsOf(bundle.pem)).not.toContain(oldAnchor);
  const issuer = validateIssuer(await home.store.readIssuer(), bundle, new Date());
  expect(await opensslVerifies(bundle.pem, issuer.certificate.node.toString())).toBe(true);
  expect(anchorsOf((await ctx.keyring.current()).certificatePem)).toEqual([last.newAnchor!.fingerprint]);
  const entries = await readdir(home.home);
  expect(entries.filter((e) => e.startsWith(HomeLayout.retiredAnchorPrefix))).toHaveLength(1);
  expect(await exists(join(home.home, HomeLayout.nextAnchorDir))).toBe(false);
  expect(await exists(join(home.home, HomeLayout.previousIssuerDir))).toBe(false);
  expect(await exists(join(home.home, HomeLayout.rotationState))).toBe(false);
  for (const p of fleet) {
    expect(p.bundleFingerprint).toBe(bundleFingerprintOfPem(bundle.pem));
    expect(p.certificateAnchor).toBe(last.newAnchor!.fingerprint);
    expect(p.refusedBundles).toBe(0); // no proxy was ever handed a bundle that would have cut it off
  }
  expect(last.phases.map((p) => p.step)).toEqual([...ROTATION_STEPS]);
}

describe('the command stopped at any point, then re-run, completes correctly', () => {
  it.each(ROTATION_CHECKPOINTS.map((c) => [c]))('crash at %s', async (at) => {
    ({ home, fleet } = await homeWithFleet(['web', 'api']));
    const oldAnchor = home.bundle.anchors[0]!.fingerprint;
    const crash = crashOnceAt(at);
    await expect(runRotation(rotationContext(home.home, home.store, { hooks: crash }))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(crash.crashed).toBe(true);
    const recorded = (await rotationContext(home.home, home.store).stateFile.read())?.newAnchor?.fingerprint;
    const resumed = rotationContext(home.home, home.store);
    await runRotation(resumed);
    await expectCompleted(oldAnchor, recorded);
  });

  it('crash, then resume one verb at a time', async () => {
    ({ home, fleet } = await homeWithFleet(['web', 'api']));
    const oldAnchor = home.bundle.anchors[0]!.fingerprint;
    await runStep(rotationContext(home.home, home.store), 'prepare');
    await runStep(rotationContext(home.home, home.store), 'wait-bundle');
    await expect(runStep(rotationContext(home.home, home.store, { hooks: crashOnceAt('activate:issuer-written') }), 'activate')).rejects.toBeInstanceOf(SimulatedCrash);
    const ctx = rotationContext(home.home, home.store);
    await expect(runStep(ctx, 'wait-reissue')).rejects.toThrow(/activate has begun and not finished/);
    for (const step of ['activate', 'wait-reissue', 'retire'] as const) await runStep(ctx, step);
    await expectCompleted(oldAnchor);
  });
});

describe('the rotation lock', () => {
  it('refuses a second run while one is at work, and takes over the lock of a run that was killed', async () => {
    home = await makeTestHome();
    const inner = await withRotationLock(home.home, () => withRotationLock(home.home, async () => 'no').catch((e: Error) => e));
    expect(inner).toBeInstanceOf(RotationInProgressError);
    expect((inner as Error).message).toMatch(new RegExp(`another "identity rotate-anchor" \\(pid ${process.pid}\\) is working on this rotation`));
    expect(await exists(join(home.home, ROTATION_LOCK))).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited
    await writeFile(join(home.home, ROTATION_LOCK), `${dead}\n`);
    expect(await withRotationLock(home.home, async () => 'ran')).toBe('ran');
  });
});
