import type { RotationContext } from './context.ts';
import type { PhaseRecord, RotationState } from './state.ts';
import { formatDuration } from '../../common/duration.ts';

/** Adds a finished phase; its duration is wall time from its first start, crashes and waits included. */
export function recordPhase(ctx: RotationContext, state: RotationState, step: PhaseRecord['step'], startedAt: string): void {
  const finishedAt = ctx.clock.now();
  state.phases.push({ step, startedAt, finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - Date.parse(startedAt) });
}

/** `prepare 1s, wait-bundle 35s, ...`: the phases of a rotation, for its closing line. */
export function describePhases(state: RotationState): string {
  return state.phases.map((p) => `${p.step} ${formatPhaseDuration(p.durationMs)}`).join(', ');
}

/** Short phases with a decimal (`1.4s`), so that a fast rotation's phases do not all read `0s`. */
export const formatPhaseDuration = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms));
