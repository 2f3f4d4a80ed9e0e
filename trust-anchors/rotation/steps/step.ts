import type { RotationContext } from '../context.ts';
import type { RotationState, RotationStep } from '../state.ts';

/** One forward step of an anchor rotation. `run` is idempotent: re-running it after a crash at any point ends in the same place. */
export interface StepDefinition {
  name: RotationStep;
  /** What the step would do, one line per action, for --dry-run. Reads, never writes. */
  plan(ctx: RotationContext, state: RotationState | undefined): Promise<string[]>;
  /** Does the step; persists `state` (via saveState) after each change it makes outside the home. */
  run(ctx: RotationContext, state: RotationState): Promise<void>;
}

export function pausedHint(step: string, abortable: boolean): string {
  return abortable
    ? `The rotation is paused at ${step}: bring the stragglers up and run "identity rotate-anchor" again to resume, ` +
        'or "identity rotate-anchor abort" to go back to the old anchor.'
    : `The rotation is paused at ${step}: bring the stragglers up and run "identity rotate-anchor" again to resume.`;
}

/** One line naming the fleet and its members for --dry-run, or why it cannot be read. */
export async function describeFleet(ctx: RotationContext): Promise<string> {
  try {
    const members = await ctx.fleet.members();
    const names = members.map((m) => (m.unavailable === undefined ? m.name : `${m.name} (${m.unavailable})`)).join(', ');
    return `${members.length} proxies listed in ${ctx.fleet.description}${names ? `: ${names}` : ''}`;
  } catch (err) {
    return `the fleet cannot be read: ${(err as Error).message}`;
  }
}
