import { checkpoint, saveState, type RotationCheckpoint, type RotationContext } from './context.ts';
import { RotationInProgressError, RotationOrderError } from './errors.ts';
import { describePhases, formatPhaseDuration, recordPhase } from './phases.ts';
import { ROTATION_STEPS, type RotationState, type RotationStep } from './state.ts';
import { activate } from './steps/activate.ts';
import { beginRotation, prepare } from './steps/prepare.ts';
import { retire } from './steps/retire.ts';
import type { StepDefinition } from './steps/step.ts';
import { waitBundle } from './steps/wait-bundle.ts';
import { waitReissue } from './steps/wait-reissue.ts';

export const STEPS: Record<RotationStep, StepDefinition> = {
  prepare,
  'wait-bundle': waitBundle,
  activate,
  'wait-reissue': waitReissue,
  retire,
};

const indexOf = (step: RotationStep) => ROTATION_STEPS.indexOf(step);

/**
 * Runs one step: persists `running` before it and `completed` after it, so that a run stopped
 * anywhere resumes that step. A step already done is a no-op; a step out of order is refused.
 */
export async function runStep(ctx: RotationContext, step: RotationStep): Promise<RotationState | undefined> {
  let state = await ctx.stateFile.read();
  if (step === 'prepare' && !state) {
    state = await beginRotation(ctx);
  } else {
    state = assertMayRun(ctx, state, step);
    if (state.completed !== null && indexOf(step) <= indexOf(state.completed)) {
      ctx.progress(`${step}: already done`);
      if (state.completed === 'retire') return completeRotation(ctx, state);
      return state;
    }
    if (state.running?.step !== step) {
      state.running = { step, startedAt: ctx.clock.now().toISOString() };
      await saveState(ctx, state);
    } else {
      ctx.progress(`${step}: resuming (begun ${state.running.startedAt})`);
    }
  }
  await checkpoint(ctx, `${step}:started` as RotationCheckpoint);
  await STEPS[step].run(ctx, state);
  recordPhase(ctx, state, step, state.running!.startedAt);
  state.completed = step;
  state.running = null;
  await saveState(ctx, state);
  ctx.progress(`${step}: done in ${formatPhaseDuration(state.phases.at(-1)!.durationMs)}`);
  await checkpoint(ctx, `${step}:done` as RotationCheckpoint);
  return step === 'retire' ? completeRotation(ctx, state) : state;
}

/**
 * The driver: runs the remaining steps in order (all of them when no rotation is in progress),
 * resuming a step that a previous run left unfinished. Resolves with the finished state.
 */
export async function runRotation(ctx: RotationContext): Promise<RotationState | undefined> {
  let state = await ctx.stateFile.read();
  if (state?.aborting) throw new RotationOrderError('an abort is in progress; run "identity rotate-anchor abort" to finish it');
  if (state) ctx.progress(`resuming rotation ${state.id} at ${nextStep(state) ?? 'its end'}`);
  for (let step = state ? nextStep(state) : 'prepare'; step; step = state ? nextStep(state) : undefined) {
    ctx.progress(`== ${step}`);
    state = await runStep(ctx, step);
    if (state?.outcome) break;
  }
  if (state?.completed === 'retire' && !state.outcome) state = await completeRotation(ctx, state);
  if (state) ctx.progress(`rotation ${state.id} completed in ${formatPhaseDuration(Date.parse(state.finishedAt!) - Date.parse(state.startedAt))}: ${describePhases(state)}`);
  return state;
}

/** The steps a driver run would take, with what each would do: `--dry-run`. Reads only. */
export async function planRotation(ctx: RotationContext, only?: RotationStep): Promise<string[]> {
  const state = await ctx.stateFile.read();
  if (only) {
    if (only === 'prepare' && !state) return [`prepare:`, ...indent(await STEPS.prepare.plan(ctx, state))];
    const checked = assertMayRun(ctx, state, only);
    if (checked.completed !== null && indexOf(only) <= indexOf(checked.completed)) return [`${only}: already done; nothing to do`];
    return [`${only}:`, ...indent(await STEPS[only].plan(ctx, checked))];
  }
  if (state?.aborting) throw new RotationOrderError('an abort is in progress; run "identity rotate-anchor abort" to finish it');
  const first = state ? nextStep(state) : 'prepare';
  const lines = state ? [`rotation ${state.id} in progress; it would resume at ${first ?? 'its end'}`] : ['no rotation in progress; it would start one'];
  for (const step of first ? ROTATION_STEPS.slice(indexOf(first)) : []) lines.push(`${step}:`, ...indent(await STEPS[step].plan(ctx, state)));
  return lines;
}

/** The step a driver runs next: the unfinished one, else the one after the last finished. */
export function nextStep(state: RotationState): RotationStep | undefined {
  if (state.running && state.running.step !== 'abort') return state.running.step;
  return state.completed === null ? 'prepare' : ROTATION_STEPS[indexOf(state.completed) + 1];
}

/** After retire: the kept issuer is removed and the state closed; idempotent. */
async function completeRotation(ctx: RotationContext, state: RotationState): Promise<RotationState> {
  await ctx.keyring.removePreviousIssuer();
  state.outcome = 'completed';
  state.finishedAt = state.phases.at(-1)?.finishedAt ?? ctx.clock.now().toISOString();
  await ctx.stateFile.finish(state);
  return state;
}

function assertMayRun(ctx: RotationContext, state: RotationState | undefined, step: RotationStep): RotationState {
  if (!state) {
    throw new RotationOrderError(
      `no anchor rotation is in progress, so there is nothing to ${step}; start one with "identity rotate-anchor prepare" ` +
        '(or "identity rotate-anchor" to run every step)',
    );
  }
  if (state.store !== ctx.store.description) {
    throw new RotationOrderError(`the rotation in progress publishes to ${state.store}, not ${ctx.store.description}; pass the same store options`);
  }
  if (state.aborting) throw new RotationOrderError('an abort is in progress; run "identity rotate-anchor abort" to finish it');
  if (step === 'prepare' && state.running?.step !== 'prepare') {
    throw new RotationInProgressError(
      `an anchor rotation is already in progress (${state.id}, ${describeProgress(state)}); ` +
        'run "identity rotate-anchor" to resume it, "identity rotate-anchor status" to see it, or "identity rotate-anchor abort" to back out',
    );
  }
  if (state.running && state.running.step !== step) {
    throw new RotationOrderError(
      `${state.running.step} has begun and not finished; run "identity rotate-anchor ${state.running.step}" (or "identity rotate-anchor") to finish it first`,
    );
  }
  const expected = nextStep(state);
  if (state.completed !== null && indexOf(step) <= indexOf(state.completed)) return state; // done: a no-op
  if (step !== expected) {
    throw new RotationOrderError(`${step} cannot run yet: the rotation ${describeProgress(state)}; the next step is ${expected}`);
  }
  return state;
}

export function describeProgress(state: RotationState): string {
  if (state.running) return `is in ${state.running.step}, begun ${state.running.startedAt}`;
  return state.completed ? `has finished ${state.completed}` : 'has not finished prepare';
}

const indent = (lines: string[]) => lines.map((l) => `  would ${l}`);
