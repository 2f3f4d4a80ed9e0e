import { join } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../common/errors.ts';
import { verifyLedger } from '../../identity/ledger/index.ts';
import { HomeLayout } from '../../trust-anchors/directory-store.ts';
import { homeOption, resolveHome } from '../options.ts';

export function registerLedger(program: Command, env: NodeJS.ProcessEnv): void {
  const ledger = program.command('ledger').description('the issuance ledger');
  ledger
    .command('verify')
    .description('verify the hash chain and checkpoint of the issuance ledger')
    .addOption(homeOption())
    .option('--file <path>', 'ledger file (default: <home>/ledger.jsonl)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (o: { home?: string; file?: string; output: string }) => {
      const path = o.file ?? join(resolveHome(o.home, env), HomeLayout.ledger);
      const report = await verifyLedger(path);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const p of report.problems) process.stdout.write(`${p.severity} line ${p.line}: ${p.kind}: ${p.message}\n`);
        process.stdout.write(report.ok ? `ledger ${path}: ${report.count} record(s), chain intact\n` : `ledger ${path}: ${report.errors.length} problem(s); the ledger has been altered\n`);
      }
      process.exitCode = report.ok ? ExitCode.OK : ExitCode.FAILURE;
    });
}
