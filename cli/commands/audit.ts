import { Option, type Command } from 'commander';
import { ExitCode, UsageError } from '../../common/errors.ts';
import { auditResources } from '../../policy/audit/audit-resources.ts';
import { analyzeDecisions, impactFindings, type DecisionImpact } from '../../policy/audit/decision-impact.ts';
import { failsAt, FAIL_ON_CHOICES, type FailOn } from '../../policy/audit/finding.ts';
import { formatAuditText } from '../../policy/audit/format-text.ts';
import { auditReport } from '../../policy/audit/report.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { loadResources } from '../../policy/resources/load.ts';
import { addEvaluatorOptions, evaluatorConfigFrom, writeIgnoredNote, type EvaluatorOptions } from '../policy-options.ts';

interface AuditOptions extends EvaluatorOptions {
  resources: string[];
  decisions?: string[];
  proposed?: string[];
  output: 'text' | 'json';
  failOn: FailOn;
}

export function registerAudit(program: Command, _env: NodeJS.ProcessEnv): void {
  const command = program
    .command('audit')
    .description('audit policy resources (findings with severity and a fix each) and, with decision logs, the impact of enforcing')
    .requiredOption('--resources <path...>', 'policy YAML/JSON files or directories (Servers, authorizations, Pods, Namespaces, ServiceAccounts, ...)')
    .option('--decisions <log...>', 'decision logs (JSON lines), or directories of them with their rotations')
    .option('--proposed <path...>', 'proposed resources: decide every logged connection again against them (needs --decisions)');
  addEvaluatorOptions(command)
    .addOption(new Option('-o, --output <format>', 'text or json').choices(['text', 'json']).default('text'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity').choices(FAIL_ON_CHOICES).default('high'))
    .action(async (o: AuditOptions) => {
      const config = evaluatorConfigFrom(o);
      if (o.proposed && !o.decisions) throw new UsageError('--proposed needs --decisions: the impact of a proposal is judged on logged connections');
      const loaded = await loadResources(o.resources);
      // The index's notes are not repeated: findings say the same, with codes (all but its
      // opaque-ports remarks, which change no decision).
      writeIgnoredNote(loaded);
      const findings = auditResources(loaded.resources, config);
      let impact: DecisionImpact | undefined;
      if (o.decisions) {
        const proposed = o.proposed ? await loadResources(o.proposed) : undefined;
        impact = await analyzeDecisions(o.decisions, proposed ? PolicyIndex.build(proposed.resources, config) : undefined);
        findings.push(...impactFindings(impact));
      }
      const report = auditReport(findings, impact);
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(report)}\n` : formatAuditText(report));
      process.exitCode = failsAt(report.findings, o.failOn) ? ExitCode.FAILURE : ExitCode.OK;
    });
}
