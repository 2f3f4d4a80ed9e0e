/**
 * The compliance report from its inputs: pure, no I/O, no clock but `inputs.now`.
 *
 * @example
 *   const inputs = await gatherReportInputs({ home: '.identity', now: new Date(), sinceMs: 7 * 86_400_000 });
 *   const report = buildComplianceReport(inputs);
 *   report.mtls.connectionShare; // 0.7
 *   report.controls.find((c) => c.id === 'soc2-cc6.7')?.status; // 'fail'
 */
import { evaluateControls, summarizeControls } from './controls/index.ts';
import type { ReportInputs } from './inputs.ts';
import { REPORT_VERSION, type ComplianceReport } from './model.ts';
import { denials } from './sections/denials.ts';
import { identityInventory } from './sections/inventory.ts';
import { ledgerIntegrity } from './sections/ledger.ts';
import { mtlsCoverage } from './sections/mtls.ts';
import { policyCoverage } from './sections/policy-coverage.ts';
import { rotationHistory } from './sections/rotation.ts';
import { trustChain } from './sections/trust-chain.ts';
import { inWindow } from './window.ts';

export function buildComplianceReport(inputs: ReportInputs): ComplianceReport {
  const { now, since } = inputs;
  const records = inputs.decisions.records.filter((r) => inWindow(r.time, since));
  const certificates = inputs.ledger.records.filter((r) => inWindow(r.time, since));

  const mtls = mtlsCoverage(records, { since, until: now });
  const inventory = identityInventory(certificates, inputs.trust, now);
  const ledger = ledgerIntegrity(inputs.ledger);
  const trust = trustChain(inputs.trust, now);
  const rotation = rotationHistory(inputs.rotation, certificates, inputs.trust);
  const policy = policyCoverage(inputs.policy, records);
  const refused = denials(records);
  const controls = evaluateControls({
    mtls,
    inventory,
    ledger,
    trust,
    policy,
    denials: refused,
    sessions: {
      decisions: records.length,
      distinctDecisionIds: new Set(records.map((r) => r.decisionId)).size,
      admittedWithoutIdentity: records.filter((r) => r.decision !== 'deny' && r.clientIdentity === null).length,
    },
  });
  const log = inputs.decisions.log;
  return {
    version: REPORT_VERSION,
    generatedAt: now.toISOString(),
    window: { since: since?.toISOString() ?? null, until: now.toISOString() },
    sources: {
      home: inputs.home,
      decisionLogs: { paths: inputs.decisions.paths, files: log.files, records: log.records, inWindow: records.length, badLines: log.badLines, bad: log.bad },
      ledger: inputs.ledger.path,
      resources: { paths: inputs.policy?.paths ?? [], files: inputs.policy?.files ?? [] },
    },
    mtls,
    inventory,
    ledger,
    trust,
    rotation,
    policy,
    denials: refused,
    controls,
    summary: summarizeControls(controls),
  };
}
