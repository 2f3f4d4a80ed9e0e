import { formatDuration } from '../../../common/duration.ts';
import { InternalError, TrustError } from '../../../common/errors.ts';
import { HomeLayout } from '../../directory-store.ts';
import { validateBundle, validateIssuer } from '../../trust.ts';
import { loadCaSigner } from '../ca-signer.ts';
import { checkpoint, fleetDeps, saveState, type RotationContext } from '../context.ts';
import { waitForFleet } from '../fleet-wait.ts';
import { anchorFingerprint, bundleFingerprintOfPem, composeBundle, shortFingerprint } from '../fingerprints.ts';
import type { RotationState } from '../state.ts';
import { certifiedUnder, holdsBundle } from './conditions.ts';
import { describeFleet, pausedHint, type StepDefinition } from './step.ts';

export const retire: StepDefinition = {
  name: 'retire',

  async plan(ctx) {
    return [
      'check once more that every proxy holds a certificate from the new anchor',
      `publish the bundle = the new anchor only, to ${ctx.store.description}`,
      `move ${ctx.keyring.home}/anchor/ to ${HomeLayout.retiredAnchorPrefix}<time>/ and anchor-next/ to anchor/`,
      `wait until every proxy reports the new-only bundle, at most ${formatDuration(ctx.options.timeoutMs)}; ${await describeFleet(ctx)}`,
    ];
  },

  async run(ctx, state) {
    const newAnchor = state.newAnchor?.fingerprint;
    if (!newAnchor) throw new InternalError('retire: the state has no new anchor; prepare did not finish');
    if (!state.retiredAnchorDir) {
      state.retiredAnchorDir = `${HomeLayout.retiredAnchorPrefix}${ctx.clock.now().toISOString().replace(/[:.]/g, '-')}`;
      await saveState(ctx, state);
    }
    const anchor = loadCaSigner(await newAnchorKeyPair(ctx, newAnchor));
    const finalPem = composeBundle([anchor.certificate]);
    const now = ctx.clock.now();
    const final = validateBundle({ pem: finalPem, source: 'the new-only bundle' }, now);
    state.finalBundleFingerprint = final.fingerprint;
    await saveState(ctx, state);

    const published = await ctx.store.readBundle();
    if (bundleFingerprintOfPem(published.pem, published.source) !== final.fingerprint) {
      // The point of no return: the old anchor leaves the bundle. Only with an issuer the new bundle
      // accepts (or the identity service would refuse to reload), and only once every proxy, new
      // ones included, holds a certificate the new bundle accepts (or it would refuse the bundle).
      try {
        validateIssuer(await ctx.store.readIssuer(), final, now);
      } catch (err) {
        throw new TrustError(`retire: the issuer in ${ctx.store.description} does not chain to the new anchor alone (${(err as Error).message}); run activate first`, { cause: err });
      }
      await waitForFleet(fleetDeps(ctx), certifiedUnder([newAnchor], `the new anchor ${shortFingerprint(newAnchor)}`), {
        label: 'retire (check before publishing)',
        timeoutMs: ctx.options.timeoutMs,
        pollIntervalMs: ctx.options.pollIntervalMs,
        renewEveryMs: ctx.options.renewEveryMs,
        allowEmptyFleet: ctx.options.allowEmptyFleet,
        resumeHint: pausedHint('retire (nothing retired yet)', true),
      });
      await ctx.store.writeBundle(finalPem);
    }
    await checkpoint(ctx, 'retire:bundle-published');
    ctx.progress(`retire: published bundle ${shortFingerprint(final.fingerprint)} (new anchor only) to ${ctx.store.description}`);

    await ctx.keyring.promoteNext(state.retiredAnchorDir);
    await checkpoint(ctx, 'retire:anchor-archived');
    ctx.progress(`retire: the old anchor's key pair is archived in ${ctx.keyring.home}/${state.retiredAnchorDir}/`);

    await waitForFleet(fleetDeps(ctx), holdsBundle(final.fingerprint, 'new anchor only', knownBundles(state)), {
      label: 'retire',
      timeoutMs: ctx.options.timeoutMs,
      pollIntervalMs: ctx.options.pollIntervalMs,
      allowEmptyFleet: ctx.options.allowEmptyFleet,
      resumeHint: pausedHint('retire', false),
    });
  },
};

/** The new anchor's key pair: in anchor-next/ until promoted, in anchor/ after. */
async function newAnchorKeyPair(ctx: RotationContext, fingerprint: string) {
  const candidates = [await ctx.keyring.next(), await ctx.keyring.current().catch(() => undefined)];
  const found = candidates.find((c) => c && anchorFingerprint(c.certificatePem, c.source) === fingerprint);
  if (!found) throw new InternalError(`retire: neither anchor-next/ nor anchor/ in ${ctx.keyring.home} holds the new anchor ${shortFingerprint(fingerprint)}`);
  return found;
}

function knownBundles(state: RotationState): Record<string, string> {
  return {
    [state.oldBundle.fingerprint]: 'the old one',
    ...(state.transitionBundleFingerprint ? { [state.transitionBundleFingerprint]: 'old + new' } : {}),
  };
}
