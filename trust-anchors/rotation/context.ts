import type { Clock } from '../../common/clock.ts';
import type { TrustStore } from '../store.ts';
import type { AnchorKeyring } from './anchor-keyring.ts';
import type { Fleet, FleetProbe } from './fleet.ts';
import type { FleetWaitDeps } from './fleet-wait.ts';
import type { RotationState, RotationStateFile } from './state.ts';

export const DEFAULT_ROTATION_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** How often a proxy that still holds an old certificate is asked again to renew (the identity service may not have reloaded at the first ask). */
export const DEFAULT_RENEW_EVERY_MS = 5_000;

export interface RotationOptions {
  anchorLifetimeMs: number;
  issuerLifetimeMs: number;
  /** Bound on each wait for the fleet; past it the command stops with the stragglers named, resumable. */
  timeoutMs: number;
  pollIntervalMs: number;
  renewEveryMs: number;
  allowEmptyFleet: boolean;
}

/** Test seams. `checkpoint` runs at each named point once what came before it is persisted. */
export interface RotationHooks {
  checkpoint?(name: RotationCheckpoint): void | Promise<void>;
}

/** Every point at which a run may stop (crash, kill) and a re-run must still end correctly. */
export const ROTATION_CHECKPOINTS = [
  'prepare:started',
  'prepare:anchor-created',
  'prepare:bundle-published',
  'prepare:done',
  'wait-bundle:started',
  'wait-bundle:done',
  'activate:started',
  'activate:previous-issuer-saved',
  'activate:issuer-written',
  'activate:done',
  'wait-reissue:started',
  'wait-reissue:done',
  'retire:started',
  'retire:bundle-published',
  'retire:anchor-archived',
  'retire:done',
] as const;
export const ABORT_CHECKPOINTS = ['abort:started', 'abort:issuer-restored', 'abort:proxies-reissued', 'abort:bundle-restored', 'abort:bundle-confirmed'] as const;
export type RotationCheckpoint = (typeof ROTATION_CHECKPOINTS)[number] | (typeof ABORT_CHECKPOINTS)[number];

/** What a rotation works with: where trust is published, where the anchor keys are, and who must confirm. */
export interface RotationContext {
  store: TrustStore;
  keyring: AnchorKeyring;
  stateFile: RotationStateFile;
  fleet: Fleet;
  probe: FleetProbe;
  clock: Clock;
  options: RotationOptions;
  /** One line per event, for people (the CLI prints them on standard output). */
  progress(line: string): void;
  sleep?(ms: number): Promise<void>;
  hooks?: RotationHooks;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function fleetDeps(ctx: RotationContext): FleetWaitDeps {
  return { fleet: ctx.fleet, probe: ctx.probe, clock: ctx.clock, sleep: ctx.sleep ?? realSleep, progress: ctx.progress };
}

export async function checkpoint(ctx: RotationContext, name: RotationCheckpoint): Promise<void> {
  await ctx.hooks?.checkpoint?.(name);
}

/** Persists the state, stamped with the time. */
export async function saveState(ctx: RotationContext, state: RotationState): Promise<void> {
  state.updatedAt = ctx.clock.now().toISOString();
  await ctx.stateFile.write(state);
}
