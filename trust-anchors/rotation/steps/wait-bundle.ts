import { fleetDeps, type RotationContext } from '../context.ts';
import { waitForFleet } from '../fleet-wait.ts';
import { formatDuration } from '../../../common/duration.ts';
import { InternalError } from '../../../common/errors.ts';
import { holdsBundle } from './conditions.ts';
import { describeFleet, pausedHint, type StepDefinition } from './step.ts';

export const waitBundle: StepDefinition = {
  name: 'wait-bundle',

  async plan(ctx) {
    return [
      `wait until every proxy reports the transition bundle (old + new anchors), at most ${formatDuration(ctx.options.timeoutMs)}; ${await describeFleet(ctx)}`,
    ];
  },

  async run(ctx: RotationContext, state) {
    const expected = state.transitionBundleFingerprint;
    if (!expected) throw new InternalError('wait-bundle: the state has no transition bundle; prepare did not finish');
    await waitForFleet(fleetDeps(ctx), holdsBundle(expected, 'old + new anchors', { [state.oldBundle.fingerprint]: 'the old one' }), {
      label: 'wait-bundle',
      timeoutMs: ctx.options.timeoutMs,
      pollIntervalMs: ctx.options.pollIntervalMs,
      allowEmptyFleet: ctx.options.allowEmptyFleet,
      resumeHint: pausedHint('wait-bundle', true),
    });
  },
};
