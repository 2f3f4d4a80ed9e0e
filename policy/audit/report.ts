/**
 * The audit's result as one object: what `identity audit -o json` prints, and what the text
 * form is rendered from.
 */
import type { DecisionImpact } from './decision-impact.ts';
import { compareFindings, countBySeverity, type Finding, type SeverityCounts } from './finding.ts';

export interface AuditReport {
  /** Most severe first. */
  findings: Finding[];
  /** Present when decision logs were read. */
  impact?: DecisionImpact;
  summary: SeverityCounts;
}

export function auditReport(findings: readonly Finding[], impact?: DecisionImpact): AuditReport {
  const sorted = [...findings].sort(compareFindings);
  return { findings: sorted, ...(impact ? { impact } : {}), summary: countBySeverity(sorted) };
}
