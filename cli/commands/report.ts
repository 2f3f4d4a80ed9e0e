import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../../common/errors.ts';
import { networksFromCidrs } from '../../policy/net/cidr.ts';
import { DEFAULT_POLICIES, type DefaultPolicyName } from '../../policy/resources/types.ts';
import { buildComplianceReport } from '../../report/build.ts';
import { gatherReportInputs } from '../../report/gather/index.ts';
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../../report/render/index.ts';
import { writeFileAtomic } from '../../trust-anchors/directory-store.ts';
import { durationArg, homeOption, resolveHome } from '../options.ts';

interface ReportOptions {
  home?: string;
  decisions?: string[];
  resources?: string[];
  ledger?: string;
  since?: number;
  output: ReportFormat;
  out?: string;
  now?: string;
  defaultPolicy: DefaultPolicyName;
  clusterNetworks?: string;
}

/** A report names workloads and addresses but holds no key or token: readable by others, as auditors need. */
const REPORT_FILE_MODE = 0o644;

export function registerReport(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('report')
    .description('compliance report: mTLS coverage, identities, trust chain, rotations, policy coverage, denials, and controls with evidence')
    .addOption(homeOption())
    .option('--decisions <path...>', 'decision logs, or directories of them (default: <home>/mesh/decisions, if present)')
    .option('--resources <path...>', 'policy resources (default: <home>/mesh/policy, if present)')
    .option('--ledger <file>', 'issuance ledger (default: <home>/ledger.jsonl)')
    .option('--since <duration>', 'only decisions and certificates of this last period (e.g. 24h, 7d)', durationArg('--since'))
    .addOption(new Option('-o, --output <format>', 'json, md or html').choices(REPORT_FORMATS).default('md'))
    .option('--out <file>', `write the report to this file (mode 0${REPORT_FILE_MODE.toString(8)}, replaced atomically) instead of standard output`)
    .option('--now <time>', 'the report\'s time, ISO-8601 (default: now); for reproducible reports and tests')
    .addOption(new Option('--default-policy <policy>', 'cluster-wide default inbound policy, for policy coverage').choices(DEFAULT_POLICIES).default('all-unauthenticated'))
    .option('--cluster-networks <cidrs>', 'comma-separated cluster networks, for policy coverage')
    .action(async (o: ReportOptions) => {
      const now = o.now === undefined ? new Date() : parseNow(o.now);
      const inputs = await gatherReportInputs({
        home: resolveHome(o.home, env),
        now,
        ...(o.since !== undefined ? { sinceMs: o.since } : {}),
        ...(o.decisions ? { decisions: o.decisions.map((p) => resolve(p)) } : {}),
        ...(o.resources ? { resources: o.resources.map((p) => resolve(p)) } : {}),
        ...(o.ledger ? { ledger: resolve(o.ledger) } : {}),
        evaluator: { defaultPolicy: o.defaultPolicy, ...(o.clusterNetworks !== undefined ? { clusterNetworks: parseNetworks(o.clusterNetworks) } : {}) },
      });
      const text = renderReport(buildComplianceReport(inputs), o.output);
      if (o.out) {
        await writeFileAtomic(resolve(o.out), text, REPORT_FILE_MODE);
        process.stderr.write(`wrote ${resolve(o.out)}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}

function parseNow(value: string): Date {
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--now "${value}" is not an ISO-8601 time (e.g. 2026-08-01T12:00:00Z)`);
  return new Date(ms);
}

function parseNetworks(value: string) {
  try {
    return networksFromCidrs(value.split(',').filter((s) => s.trim() !== ''));
  } catch (err) {
    throw new UsageError(`--cluster-networks: ${(err as Error).message}`);
  }
}
