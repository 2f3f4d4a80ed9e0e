import { formatDuration } from '../../../common/duration.ts';
import { InternalError } from '../../../common/errors.ts';
import { fleetDeps } from '../context.ts';
import { waitForFleet } from '../fleet-wait.ts';
import { shortFingerprint } from '../fingerprints.ts';
import { certifiedUnder } from './conditions.ts';
import { describeFleet, pausedHint, type StepDefinition } from './step.ts';

export const waitReissue: StepDefinition = {
  name: 'wait-reissue',

  async plan(ctx) {
    return [
      `ask every proxy to renew now (POST /renew), and wait until every certificate chains to the new anchor, ` +
        `at most ${formatDuration(ctx.options.timeoutMs)}; ${await describeFleet(ctx)}`,
    ];
  },

  async run(ctx, state) {
    const anchor = state.newAnchor?.fingerprint;
    if (!anchor) throw new InternalError('wait-reissue: the state has no new anchor; prepare did not finish');
    await waitForFleet(fleetDeps(ctx), certifiedUnder([anchor], `the new anchor ${shortFingerprint(anchor)}`), {
      label: 'wait-reissue',
      timeoutMs: ctx.options.timeoutMs,
      pollIntervalMs: ctx.options.pollIntervalMs,
      renewEveryMs: ctx.options.renewEveryMs,
      allowEmptyFleet: ctx.options.allowEmptyFleet,
      resumeHint: pausedHint('wait-reissue', true),
    });
  },
};
