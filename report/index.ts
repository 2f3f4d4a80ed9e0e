/**
 * The compliance report (`identity report`): what the ledger, the decision logs, the policy and
 * the trust chain say, as figures and as controls with evidence.
 *
 * gather/ reads a home into `ReportInputs`; `buildComplianceReport` turns them into the
 * `ComplianceReport` model (pure); render/ writes the model as JSON, Markdown or HTML.
 *
 * @example
 *   const report = buildComplianceReport(await gatherReportInputs({ home: '.identity', now: new Date() }));
 *   await writeFile('report.html', renderReport(report, 'html'));
 */
export { buildComplianceReport } from './build.ts';
export { CONTROLS } from './controls/index.ts';
export { DEFAULT_DECISIONS_DIR, DEFAULT_POLICY_DIR, gatherReportInputs, type GatherOptions } from './gather/index.ts';
export type * from './inputs.ts';
export type * from './model.ts';
export { REPORT_VERSION } from './model.ts';
export { COVERAGE_CHART_ID, EXPIRY_CHART_ID, REPORT_FORMATS, renderReport, type ReportFormat } from './render/index.ts';
