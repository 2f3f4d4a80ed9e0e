/**
 * The report the local mesh leaves behind when it stops: what its proxies decided (their
 * decision logs), what the identity service issued (the ledger) and the trust chain, as one
 * self-contained HTML file beside the logs. The mesh's proxies run with `deny` as the cluster
 * default policy, and the report judges policy coverage by the same rule.
 */
import { join } from 'node:path';
import { buildComplianceReport, gatherReportInputs, renderReport } from '../report/index.ts';
import { writeFileAtomic } from '../trust-anchors/directory-store.ts';

export interface MeshReport {
  path: string;
  pass: number;
  fail: number;
  notApplicable: number;
}

export async function writeMeshReport(home: string): Promise<MeshReport> {
  const report = buildComplianceReport(await gatherReportInputs({ home, now: new Date(), evaluator: { defaultPolicy: 'deny' } }));
  const path = join(home, 'mesh', 'report.html');
  await writeFileAtomic(path, renderReport(report, 'html'), 0o644);
  return { path, ...report.summary };
}
