import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { UsageError } from '../../common/errors.ts';
import { DEFAULT_ANCHOR_LIFETIME_MS, DEFAULT_ISSUER_LIFETIME_MS } from '../../trust-anchors/home.ts';
import {
  abortRotation,
  AnchorKeyring,
  formatRotationStatus,
  planAbort,
  planRotation,
  readRotationStatus,
  ROTATION_STEPS,
  RotationStateFile,
  runRotation,
  runStep,
  withRotationLock,
  type RotationContext,
  type RotationStep,
} from '../../trust-anchors/rotation/index.ts';
import { durationArg, resolveHome } from '../options.ts';
import { addFleetOptions, addStoreOptions, fleetFrom, httpFleetProbe, printLine, storeFrom, type FleetFlags, type StoreFlags } from './rotation-options.ts';

interface RotateAnchorFlags extends StoreFlags, FleetFlags {
  anchorLifetime: number;
  issuerLifetime: number;
  dryRun: boolean;
  output: string;
}

const VERBS = ['run', ...ROTATION_STEPS, 'abort', 'status'] as const;
type Verb = (typeof VERBS)[number];

export function registerRotateAnchor(program: Command, env: NodeJS.ProcessEnv): void {
  const command = program
    .command('rotate-anchor')
    .argument('[step]', `one step (${ROTATION_STEPS.join(', ')}), abort, status, or run (the default: every remaining step in order)`, 'run')
    .description('rotate the trust anchor with no outage, confirmed by every proxy at each step; resumable, one verb per step');
  addStoreOptions(command)
    .option('--anchor-lifetime <duration>', 'the new anchor\'s lifetime', durationArg('--anchor-lifetime'), DEFAULT_ANCHOR_LIFETIME_MS)
    .option('--issuer-lifetime <duration>', 'the new issuer\'s lifetime', durationArg('--issuer-lifetime'), DEFAULT_ISSUER_LIFETIME_MS)
    .option('--dry-run', 'print what would be done, change nothing', false)
    .option('-o, --output <format>', 'status: text or json', 'text');
  addFleetOptions(command).action(async (verb: string, o: RotateAnchorFlags) => {
    if (!(VERBS as readonly string[]).includes(verb)) throw new UsageError(`"${verb}" is not a rotate-anchor step; use one of ${VERBS.join(', ')}`);
    if (o.output !== 'text' && o.output !== 'json') throw new UsageError(`-o "${o.output}": use text or json`);
    const home = resolveHome(o.home, env);
    if (verb === 'status') {
      const status = await readRotationStatus(new RotationStateFile(home));
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatRotationStatus(status, systemClock.now()));
      return;
    }
    const ctx = rotationContext(o, home);
    if (o.dryRun) {
      const lines = verb === 'abort' ? await planAbort(ctx) : await planRotation(ctx, verb === 'run' ? undefined : (verb as RotationStep));
      for (const line of ['dry run: nothing will be changed', ...lines]) printLine(line);
      return;
    }
    await withRotationLock(home, () => runVerb(ctx, verb as Exclude<Verb, 'status'>));
  });
}

async function runVerb(ctx: RotationContext, verb: Exclude<Verb, 'status'>): Promise<void> {
  if (verb === 'run') await runRotation(ctx);
  else if (verb === 'abort') await abortRotation(ctx);
  else await runStep(ctx, verb);
}

function rotationContext(o: RotateAnchorFlags, home: string): RotationContext {
  return {
    store: storeFrom(o, home),
    keyring: new AnchorKeyring(home),
    stateFile: new RotationStateFile(home),
    fleet: fleetFrom(o, home),
    probe: httpFleetProbe(o.probeTimeout),
    clock: systemClock,
    options: {
      anchorLifetimeMs: o.anchorLifetime,
      issuerLifetimeMs: o.issuerLifetime,
      timeoutMs: o.timeout,
      pollIntervalMs: o.pollInterval,
      renewEveryMs: o.renewEvery,
      allowEmptyFleet: o.allowEmptyFleet,
    },
    progress: printLine,
  };
}
