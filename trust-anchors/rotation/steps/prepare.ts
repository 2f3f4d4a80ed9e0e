import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { formatDuration } from '../../../common/duration.ts';
import { InternalError, TrustError } from '../../../common/errors.ts';
import { describeCertificate, parseCertificate } from '../../certificate.ts';
import { createTrustAnchor } from '../../certificates.ts';
import { HomeLayout } from '../../directory-store.ts';
import { privateKeyToPem } from '../../keys.ts';
import { decodeCertificates } from '../../pem.ts';
import { validateBundle, validateIssuer } from '../../trust.ts';
import { certificateFacts, commonNameOf, loadCaSigner } from '../ca-signer.ts';
import { checkpoint, saveState, type RotationContext } from '../context.ts';
import { fleetMembers } from '../fleet-wait.ts';
import { bundleFingerprintOfPem, composeBundle, parseAnchors, shortFingerprint } from '../fingerprints.ts';
import type { RotationState } from '../state.ts';
import type { StepDefinition } from './step.ts';

/**
 * Checks that the rotation starts from a sound place — the anchor key in the home is in the
 * bundle, the issuer in service validates — and writes the first state (`running: prepare`).
 * Any `anchor-next/` left without a state is a stray of an earlier run and is replaced.
 */
export async function beginRotation(ctx: RotationContext): Promise<RotationState> {
  // A fleet that cannot be read (or is empty) would stop the rotation at wait-bundle with the
  // bundle already changed: refuse before changing anything.
  await fleetMembers(ctx.fleet, 'prepare', ctx.options.allowEmptyFleet);
  const now = ctx.clock.now();
  const anchor = loadCaSigner(await ctx.keyring.current());
  const bundle = validateBundle(await ctx.store.readBundle(), now);
  if (!bundle.anchors.some((a) => a.fingerprint === anchor.certificate.fingerprint)) {
    throw new TrustError(
      `the anchor in ${join(ctx.keyring.home, HomeLayout.anchorDir)} ${describeCertificate(anchor.certificate)} is not in the trust bundle ` +
        `${bundle.source}; a rotation starts from the anchor in service (is --home the right one?)`,
    );
  }
  validateIssuer(await ctx.store.readIssuer(), bundle, now);
  await ctx.keyring.removeNext();
  const at = now.toISOString();
  const state: RotationState = {
    version: 1,
    id: `${at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`,
    store: ctx.store.description,
    startedAt: at,
    updatedAt: at,
    completed: null,
    running: { step: 'prepare', startedAt: at },
    aborting: null,
    oldAnchor: certificateFacts(anchor.certificate),
    newAnchor: null,
    oldBundle: { pem: bundle.pem, fingerprint: bundle.fingerprint },
    transitionBundleFingerprint: null,
    finalBundleFingerprint: null,
    previousIssuer: null,
    newIssuer: null,
    retiredAnchorDir: null,
    phases: [],
  };
  await saveState(ctx, state);
  return state;
}

export const prepare: StepDefinition = {
  name: 'prepare',

  async plan(ctx) {
    const anchor = parseCertificate(decodeCertificates((await ctx.keyring.current()).certificatePem, 'anchor')[0]!, 'anchor');
    const bundle = await ctx.store.readBundle();
    return [
      `create a new trust anchor "${commonNameOf(anchor) ?? anchor.subject}" (ECDSA P-256, ${formatDuration(ctx.options.anchorLifetimeMs)}) ` +
        `in ${join(ctx.keyring.home, HomeLayout.nextAnchorDir)}/ (key mode 0600)`,
      `publish the bundle = the ${parseAnchors(bundle.pem, bundle.source).length} anchor(s) in service + the new one, to ${ctx.store.description}`,
    ];
  },

  async run(ctx, state) {
    let stored = await ctx.keyring.next();
    if (!stored) {
      // The same name as the anchor it replaces: proxies and tools that show the name show the same root.
      const oldAnchor = loadCaSigner(await ctx.keyring.current()).certificate;
      const created = await createTrustAnchor({
        commonName: commonNameOf(oldAnchor) ?? 'root',
        lifetimeMs: ctx.options.anchorLifetimeMs,
        clock: ctx.clock,
      });
      await ctx.keyring.writeNext({ certificatePem: created.certificatePem, privateKeyPem: privateKeyToPem(created.keys.privateKey), caPem: '' });
      stored = (await ctx.keyring.next())!;
    }
    const next = loadCaSigner(stored).certificate;
    if (state.newAnchor && state.newAnchor.fingerprint !== next.fingerprint) {
      throw new InternalError(
        `${stored.source} holds anchor ${shortFingerprint(next.fingerprint)}, but this rotation introduced ${shortFingerprint(state.newAnchor.fingerprint)}; ` +
          'restore that key pair, or abort the rotation',
      );
    }
    state.newAnchor = certificateFacts(next);
    await saveState(ctx, state);
    await checkpoint(ctx, 'prepare:anchor-created');
    ctx.progress(`prepare: new anchor ${describeCertificate(next)}, expires ${next.notAfter.toISOString()}`);

    const transition = composeBundle([...parseAnchors(state.oldBundle.pem, 'the bundle before the rotation'), next]);
    const bundle = validateBundle({ pem: transition, source: 'the transition bundle (old + new)' }, ctx.clock.now());
    const published = await ctx.store.readBundle();
    if (bundleFingerprintOfPem(published.pem, published.source) !== bundle.fingerprint) await ctx.store.writeBundle(transition);
    state.transitionBundleFingerprint = bundle.fingerprint;
    await saveState(ctx, state);
    await checkpoint(ctx, 'prepare:bundle-published');
    ctx.progress(`prepare: published bundle ${shortFingerprint(bundle.fingerprint)} (old + new anchors) to ${ctx.store.description}`);
  },
};
