/**
 * What the decision logs say about enforcing: one pass over the logs feeds the enforce impact
 * (audit to deny) and, with proposed resources, the proposal's impact. The headline of each
 * becomes a finding, so that CI can gate on it like on any other.
 */
import type { PolicyIndex } from '../evaluator/policy-index.ts';
import { readDecisionLogs, type DecisionLogSummary } from './decision-log.ts';
import type { Finding } from './finding.ts';
import { targetOf, type FlowGroup } from './flow-groups.ts';
import { EnforceImpactCollector, type EnforceImpact } from './impact-enforce.ts';
import { ProposedImpactCollector, type ProposedImpact } from './impact-proposed.ts';

export interface DecisionImpact {
  log: DecisionLogSummary;
  enforce: EnforceImpact;
  /** Present when proposed resources were given. */
  proposed?: ProposedImpact;
}

/**
 * Reads the decision logs under `paths` and computes the impact of enforcing.
 *
 * @example
 *   const impact = await analyzeDecisions(['.identity/mesh/decisions/'], PolicyIndex.build(proposed, config));
 *   impact.proposed?.refusedGroups; // [{ client: 'web.demo.serviceaccount...', server: 'demo/api', count: 12, ... }]
 */
export async function analyzeDecisions(paths: readonly string[], proposed?: PolicyIndex): Promise<DecisionImpact> {
  const enforce = new EnforceImpactCollector();
  const next = proposed ? new ProposedImpactCollector(proposed) : undefined;
  const log = await readDecisionLogs(paths, (record, at) => {
    enforce.add(record, at);
    next?.add(record, at);
  });
  return { log, enforce: enforce.result(), ...(next ? { proposed: next.result() } : {}) };
}

export function impactFindings(impact: DecisionImpact): Finding[] {
  const findings: Finding[] = [];
  const { log, enforce, proposed } = impact;
  if (log.badLines > 0) {
    const shown = log.bad.slice(0, 5).map((b) => `${b.file}:${b.line} (${b.reason})`).join(', ');
    findings.push({
      code: 'decision-log-bad-lines',
      severity: 'low',
      resources: [],
      message: `${log.badLines} line(s) of the decision log are not decisions and were left out: ${shown}${log.badLines > 5 ? ` and ${log.badLines - 5} more` : ''}`,
      fix: 'see impact.log.bad for every line; a cut last line after a crash is expected, anything else points at a proxy writing another format',
    });
  }
  if (enforce.wouldRefuse > 0) {
    findings.push({
      code: 'enforce-would-refuse',
      severity: 'medium',
      resources: [],
      message: `${enforce.wouldRefuse} logged connection(s) were admitted only by audit mode: enforcing would refuse them (${headline(enforce.groups)})`,
      fix: 'authorize the clients among them that need access before switching audit to deny',
    });
  }
  if (proposed && proposed.refused > 0) {
    findings.push({
      code: 'proposed-would-refuse',
      severity: 'medium',
      resources: [],
      message: `the proposed resources would refuse ${proposed.refused} logged connection(s) admitted today (${headline(proposed.refusedGroups)})`,
      fix: 'if these clients need access, add authorizations for them to the proposal',
    });
  }
  if (proposed && proposed.newlyAllowed > 0) {
    findings.push({
      code: 'proposed-would-allow',
      severity: 'low',
      resources: [],
      message: `the proposed resources would admit ${proposed.newlyAllowed} logged connection(s) refused today (${headline(proposed.newlyAllowedGroups)})`,
      fix: 'check that these clients are meant to gain access',
    });
  }
  if (proposed && proposed.missingPods.length > 0) {
    const count = proposed.missingPods.reduce((n, p) => n + p.count, 0);
    const pods = proposed.missingPods.slice(0, 3).map((p) => p.pod).join(', ');
    findings.push({
      code: 'proposed-pods-missing',
      severity: 'low',
      resources: proposed.missingPods.slice(0, 10).map((p) => ({ resource: `Pod/${p.pod}` })),
      message: `${count} logged connection(s) go to ${proposed.missingPods.length} pod(s) the proposed resources do not contain (${pods}${proposed.missingPods.length > 3 ? ', ...' : ''}); they were not decided again`,
      fix: 'include those pods in --proposed to judge them (or ignore this if the pods are gone)',
    });
  }
  return findings;
}

function headline(groups: readonly FlowGroup[]): string {
  const top = groups[0];
  const more = groups.length > 1 ? `, and ${groups.length - 1} more group(s)` : '';
  return top ? `${groups.length > 1 ? 'largest: ' : ''}${top.client} -> ${targetOf(top)} x${top.count}${more}` : '';
}
