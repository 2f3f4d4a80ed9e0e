import { formatDuration } from '../../common/duration.ts';
import { TrustError } from '../../common/errors.ts';
import { validateBundle, validateIssuer } from '../trust.ts';
import { checkpoint, fleetDeps, saveState, type RotationContext } from './context.ts';
import { RotationOrderError } from './errors.ts';
import { waitForFleet } from './fleet-wait.ts';
import { bundleFingerprintOfPem, parseAnchors, shortFingerprint } from './fingerprints.ts';
import { recordPhase } from './phases.ts';
import type { RotationState } from './state.ts';
import { certifiedUnder, holdsBundle } from './steps/conditions.ts';
import { describeFleet } from './steps/step.ts';

const hint = 'The abort is paused: bring the stragglers up and run "identity rotate-anchor abort" again to finish it.';

/**
 * Goes back to the old anchor with no outage, in the reverse order of the way forward: if the
 * new issuer was activated, the old one is put back and every proxy renews onto the old anchor
 * (confirmed); then the bundle becomes the old one again (confirmed); then the new anchor's key
 * and the kept issuer are removed and the state is closed as aborted. Resumable like the steps.
 */
export async function abortRotation(ctx: RotationContext): Promise<RotationState> {
  const state = await requireAbortable(ctx);
  const oldAnchors = parseAnchors(state.oldBundle.pem, 'the bundle before the rotation').map((a) => a.fingerprint);
  if (!state.aborting) {
    const at = ctx.clock.now().toISOString();
    state.aborting = { startedAt: at };
    state.running = { step: 'abort', startedAt: at };
    await saveState(ctx, state);
  }
  await checkpoint(ctx, 'abort:started');

  const now = ctx.clock.now();
  const inForce = validateBundle(await ctx.store.readBundle(), now);
  const issuer = validateIssuer(await ctx.store.readIssuer(), inForce, now);
  if (!oldAnchors.includes(issuer.anchor.fingerprint)) {
    const kept = await ctx.keyring.previousIssuer();
    if (!kept) throw new TrustError(`abort: the issuer in service chains to the new anchor, and no issuer was kept in ${ctx.keyring.home}/issuer-before-rotation/ to restore`);
    const restored = validateIssuer(kept, inForce, now);
    if (!oldAnchors.includes(restored.anchor.fingerprint)) throw new TrustError(`abort: the kept issuer ${kept.source} does not chain to the old anchor`);
    await ctx.store.writeIssuer({ certificatePem: kept.certificatePem, privateKeyPem: kept.privateKeyPem, caPem: kept.caPem });
    ctx.progress(`abort: the issuer in service before the rotation is back in ${ctx.store.description}`);
  }
  await checkpoint(ctx, 'abort:issuer-restored');

  if (state.previousIssuer) {
    // activate ran (at least in part): proxies may hold certificates from the new anchor, which the
    // old bundle would not accept; they renew onto the old anchor before the bundle changes back.
    await waitForFleet(fleetDeps(ctx), certifiedUnder(oldAnchors, 'the old anchor'), fleetOptions(ctx, 'abort', true));
  }
  await checkpoint(ctx, 'abort:proxies-reissued');

  const old = validateBundle({ pem: state.oldBundle.pem, source: 'the bundle before the rotation' }, ctx.clock.now());
  validateIssuer(await ctx.store.readIssuer(), old, ctx.clock.now());
  const published = await ctx.store.readBundle();
  if (bundleFingerprintOfPem(published.pem, published.source) !== old.fingerprint) await ctx.store.writeBundle(state.oldBundle.pem);
  await checkpoint(ctx, 'abort:bundle-restored');
  ctx.progress(`abort: published the old bundle ${shortFingerprint(old.fingerprint)} to ${ctx.store.description}`);

  const known = state.transitionBundleFingerprint ? { [state.transitionBundleFingerprint]: 'old + new' } : {};
  await waitForFleet(fleetDeps(ctx), holdsBundle(old.fingerprint, 'the old one', known), fleetOptions(ctx, 'abort', false));
  await checkpoint(ctx, 'abort:bundle-confirmed');

  await ctx.keyring.removeNext();
  await ctx.keyring.removePreviousIssuer();
  recordPhase(ctx, state, 'abort', state.aborting!.startedAt);
  state.running = null;
  state.outcome = 'aborted';
  state.finishedAt = ctx.clock.now().toISOString();
  await ctx.stateFile.finish(state);
  ctx.progress(`abort: done; the old anchor is the only one trusted, as before rotation ${state.id}`);
  return state;
}

/** What abort would do, for --dry-run. */
export async function planAbort(ctx: RotationContext): Promise<string[]> {
  const state = await requireAbortable(ctx);
  return [
    ...(state.previousIssuer
      ? [
          `put the issuer in service before the rotation back in ${ctx.store.description}`,
          `ask every proxy to renew and wait until every certificate chains to the old anchor, at most ${formatDuration(ctx.options.timeoutMs)}`,
        ]
      : []),
    `publish the bundle before the rotation (${shortFingerprint(state.oldBundle.fingerprint)}) to ${ctx.store.description}`,
    `wait until every proxy reports it; ${await describeFleet(ctx)}`,
    `remove ${ctx.keyring.home}/anchor-next/ and issuer-before-rotation/, and close the rotation as aborted`,
  ];
}

async function requireAbortable(ctx: RotationContext): Promise<RotationState> {
  const state = await ctx.stateFile.read();
  if (!state) throw new RotationOrderError('no anchor rotation is in progress; there is nothing to abort');
  if (state.store !== ctx.store.description) {
    throw new RotationOrderError(`the rotation in progress publishes to ${state.store}, not ${ctx.store.description}; pass the same store options`);
  }
  const retireBegan = state.completed === 'retire' || state.running?.step === 'retire';
  if (retireBegan && (await newOnlyPublished(ctx, state))) {
    throw new RotationOrderError(
      'retire has published the new-only bundle: the old anchor is no longer trusted, so going back would be an outage; ' +
        'run "identity rotate-anchor" to finish the rotation (a new rotation can follow)',
    );
  }
  return state;
}

async function newOnlyPublished(ctx: RotationContext, state: RotationState): Promise<boolean> {
  if (state.completed === 'retire' || !state.finalBundleFingerprint) return state.completed === 'retire';
  const published = await ctx.store.readBundle();
  return bundleFingerprintOfPem(published.pem, published.source) === state.finalBundleFingerprint;
}

function fleetOptions(ctx: RotationContext, label: string, renew: boolean) {
  return {
    label,
    timeoutMs: ctx.options.timeoutMs,
    pollIntervalMs: ctx.options.pollIntervalMs,
    ...(renew ? { renewEveryMs: ctx.options.renewEveryMs } : {}),
    allowEmptyFleet: ctx.options.allowEmptyFleet,
    resumeHint: hint,
  };
}
