import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../common/clock.ts';
import { ExitCode } from '../../common/errors.ts';
import { runIdentityChecks, type CheckResult } from '../../identity/check.ts';
import { DirectoryTrustStore, HomeLayout } from '../../trust-anchors/directory-store.ts';
import { readHomeConfig } from '../../trust-anchors/home.ts';
import { durationArg, homeOption, parseHostPort, resolveHome } from '../options.ts';

const MARK: Record<CheckResult['status'], string> = { pass: '√', warn: '‼', fail: '×', skip: '-' };
const SIXTY_DAYS_MS = 60 * 86_400_000;

export function registerCheck(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('check')
    .description('check trust anchors, issuer, ledger and (with --addr) a running service')
    .addOption(homeOption())
    .option('--addr <host:port>', 'also probe the identity service at this address')
    .option('--warn-within <duration>', 'warn when anything expires sooner', durationArg('--warn-within'), SIXTY_DAYS_MS)
    .option('--fail-within <duration>', 'fail when anything expires sooner', durationArg('--fail-within'))
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (o: { home?: string; addr?: string; warnWithin: number; failWithin?: number; output: string }) => {
      const home = resolveHome(o.home, env);
      const config = await readHomeConfig(home);
      const results = await runIdentityChecks({
        store: new DirectoryTrustStore(home),
        domain: config,
        clock: systemClock,
        warnWithinMs: o.warnWithin,
        ...(o.failWithin !== undefined ? { failWithinMs: o.failWithin } : {}),
        ledgerPath: join(home, HomeLayout.ledger),
        ...(o.addr ? { address: parseHostPort(o.addr, '--addr') } : {}),
      });
      const failed = results.some((r) => r.status === 'fail');
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n`);
      } else {
        process.stdout.write('identity\n--------\n');
        for (const r of results) {
          process.stdout.write(`${MARK[r.status]} ${r.name}\n    ${r.detail}\n${r.hint && r.status !== 'pass' ? `    see: ${r.hint}\n` : ''}`);
        }
        process.stdout.write(`\nStatus check results are ${failed ? '×' : '√'}\n`);
      }
      process.exitCode = failed ? ExitCode.FAILURE : ExitCode.OK;
    });
}
