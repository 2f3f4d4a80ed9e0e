import { formatDuration } from '../../../common/duration.ts';
import { InternalError, TrustError } from '../../../common/errors.ts';
import { describeCertificate } from '../../certificate.ts';
import { validateBundle, validateIssuer } from '../../trust.ts';
import { certificateFacts, loadCaSigner } from '../ca-signer.ts';
import { checkpoint, saveState } from '../context.ts';
import { anchorFingerprint, certificateFingerprint, shortFingerprint } from '../fingerprints.ts';
import { rotateIssuer } from '../issuer-rotation.ts';
import type { RotationState } from '../state.ts';
import type { StepDefinition } from './step.ts';

export const activate: StepDefinition = {
  name: 'activate',

  async plan(ctx) {
    return [
      `keep the issuer in service in ${ctx.keyring.home}/issuer-before-rotation/ (for abort)`,
      `write a new issuer signed by the new anchor (ECDSA P-256, ${formatDuration(ctx.options.issuerLifetimeMs)}) to ${ctx.store.description}; ` +
        'the identity service picks it up live',
    ];
  },

  async run(ctx, state) {
    const { newAnchor, transitionBundleFingerprint } = requireTransition(state);
    const now = ctx.clock.now();
    const bundle = validateBundle(await ctx.store.readBundle(), now);
    if (bundle.fingerprint !== transitionBundleFingerprint) {
      throw new TrustError(
        `${bundle.source} holds bundle ${shortFingerprint(bundle.fingerprint)}, not the transition bundle ${shortFingerprint(transitionBundleFingerprint)} ` +
          'that prepare published and every proxy confirmed; refusing to sign with the new anchor. Check who changed it, then abort the rotation',
      );
    }
    const stored = await ctx.keyring.next();
    if (!stored || anchorFingerprint(stored.certificatePem, stored.source) !== newAnchor) {
      throw new InternalError(`${ctx.keyring.home}/anchor-next/ does not hold the new anchor ${shortFingerprint(newAnchor)} of this rotation; restore it, or abort`);
    }
    const signer = loadCaSigner(stored);

    const inServiceStored = await ctx.store.readIssuer();
    const inService = validateIssuer(inServiceStored, bundle, now);
    if (inService.anchor.fingerprint === newAnchor) {
      // A previous run wrote it and stopped before recording it.
      state.newIssuer = certificateFacts(inService.certificate);
      await saveState(ctx, state);
      return;
    }
    const kept = await ctx.keyring.previousIssuer();
    if (!kept || certificateFingerprint(kept.certificatePem, kept.source) !== inService.certificate.fingerprint) {
      await ctx.keyring.savePreviousIssuer({ certificatePem: inServiceStored.certificatePem, privateKeyPem: inServiceStored.privateKeyPem, caPem: inServiceStored.caPem });
    }
    state.previousIssuer = certificateFacts(inService.certificate);
    await saveState(ctx, state);
    await checkpoint(ctx, 'activate:previous-issuer-saved');

    const { issuer } = await rotateIssuer({ store: ctx.store, signer, lifetimeMs: ctx.options.issuerLifetimeMs, clock: ctx.clock });
    state.newIssuer = certificateFacts(issuer.certificate);
    await saveState(ctx, state);
    await checkpoint(ctx, 'activate:issuer-written');
    ctx.progress(`activate: new issuer ${describeCertificate(issuer.certificate)}, expires ${issuer.notAfter.toISOString()}, written to ${ctx.store.description}`);
  },
};

function requireTransition(state: RotationState): { newAnchor: string; transitionBundleFingerprint: string } {
  if (!state.newAnchor || !state.transitionBundleFingerprint) throw new InternalError('the state has no new anchor; prepare did not finish');
  return { newAnchor: state.newAnchor.fingerprint, transitionBundleFingerprint: state.transitionBundleFingerprint };
}
