/**
 * Policy coverage: for every pod port the resources declare or the decision logs saw, what
 * decides it — a Server enforcing, a Server (or the default) in audit, or another default
 * policy. The evaluator answers, so that named ports, selectors and conflicts are resolved
 * exactly as connections are decided; `identity audit`'s findings on the same resources ride along.
 */
import type { DecisionRecord } from '../../policy/audit/decision-log.ts';
import { auditResources } from '../../policy/audit/audit-resources.ts';
import { countBySeverity } from '../../policy/audit/finding.ts';
import { PolicyIndex } from '../../policy/evaluator/policy-index.ts';
import { keyOf } from '../../policy/resources/types.ts';
import type { PolicyInput } from '../inputs.ts';
import type { PolicyCoverage, PortCoverage } from '../model.ts';
import { compareText } from '../window.ts';

/** Findings kept in the report; the counts cover them all. */
export const MAX_FINDINGS_LISTED = 50;

/** @param records the decisions in the window */
export function policyCoverage(input: PolicyInput | null, records: readonly DecisionRecord[]): PolicyCoverage {
  const ports = new Map<string, PortCoverage>();
  const port = (pod: string, number: number): PortCoverage => {
    const key = `${pod}:${number}`;
    let entry = ports.get(key);
    if (!entry) {
      entry = { pod, port: number, name: null, status: 'unknown', server: null, defaultPolicy: null, admitsUnauthenticated: false, declared: false, seenInDecisions: false };
      ports.set(key, entry);
    }
    return entry;
  };
  for (const pod of input?.resources.pods ?? []) {
    for (const p of pod.ports) {
      // The proxy sees TCP only.
      if (p.protocol !== 'TCP') continue;
      const entry = port(keyOf(pod.meta), p.containerPort);
      entry.declared = true;
      entry.name ??= p.name ?? null;
    }
  }
  for (const r of records) port(r.pod, r.port).seenInDecisions = true;

  if (input) {
    const index = PolicyIndex.build(input.resources, input.config);
    for (const entry of ports.values()) if (index.hasPod(entry.pod)) classify(entry, index);
  }
  const list = [...ports.values()].sort((a, b) => compareText(a.pod, b.pod) || a.port - b.port);
  const counts = { ports: list.length, enforced: 0, audit: 0, default: 0, unknown: 0 };
  for (const p of list) counts[p.status]++;
  return { resourcesLoaded: input !== null, defaultPolicy: input?.config.defaultPolicy ?? null, ports: list, counts, findings: input ? findings(input) : null };
}

function classify(entry: PortCoverage, index: PolicyIndex): void {
  const policy = index.portPolicy(entry.pod, entry.port);
  const governor = policy.governor;
  entry.admitsUnauthenticated = policy.authorizations.some((a) => a.authentication.kind === 'unauthenticated');
  if (governor.kind === 'server') {
    entry.server = governor.server;
    entry.status = policy.fallback === 'audit' ? 'audit' : 'enforced';
  } else {
    entry.defaultPolicy = governor.policy;
    entry.status = governor.policy === 'audit' ? 'audit' : 'default';
  }
}

function findings(input: PolicyInput): NonNullable<PolicyCoverage['findings']> {
  const all = auditResources(input.resources, input.config);
  return {
    ...countBySeverity(all),
    items: all.slice(0, MAX_FINDINGS_LISTED).map((f) => ({ code: f.code, severity: f.severity, message: f.message })),
  };
}
