/**
 * The audit for people: findings grouped by severity, each with where and how to fix it, then
 * the impact of enforcing as the few lines that matter (largest groups first).
 */
import type { DecisionLogSummary } from './decision-log.ts';
import { SEVERITIES, type Finding, type ResourceLocation } from './finding.ts';
import { targetOf, type FlowGroup } from './flow-groups.ts';
import type { AuditReport } from './report.ts';

/** Groups beyond this many per list are summed up in one line (the JSON has them all). */
const MAX_GROUPS_SHOWN = 20;

export function formatAuditText(report: AuditReport): string {
  const { summary } = report;
  const out: string[] = [`policy audit: ${summary.high} high, ${summary.medium} medium, ${summary.low} low, ${summary.info} info`];
  for (const severity of SEVERITIES) {
    const findings = report.findings.filter((f) => f.severity === severity);
    if (findings.length === 0) continue;
    out.push('', `${severity.toUpperCase()} (${findings.length})`);
    for (const f of findings) out.push(...findingLines(f));
  }
  if (report.impact) {
    const { log, enforce, proposed } = report.impact;
    out.push('', ...logLines(log));
    out.push('', `Switching audit to enforce would refuse ${enforce.wouldRefuse} logged connection(s)${enforce.wouldRefuse ? ':' : '.'}`, ...groupLines(enforce.groups));
    if (proposed) {
      out.push('', `Proposed resources: ${proposed.evaluated} logged connection(s) decided again, ${proposed.unchanged} unchanged.`);
      out.push(`  would refuse ${proposed.refused} connection(s) admitted today${proposed.refused ? ':' : '.'}`, ...groupLines(proposed.refusedGroups, '  '));
      out.push(`  would admit ${proposed.newlyAllowed} connection(s) refused today${proposed.newlyAllowed ? ':' : '.'}`, ...groupLines(proposed.newlyAllowedGroups, '  '));
      if (proposed.missingPods.length > 0) {
        const pods = proposed.missingPods.map((p) => `${p.pod} (${p.count})`).join(', ');
        out.push(`  not in the proposal, not decided again: ${pods}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

function findingLines(f: Finding): string[] {
  const lines = [`  [${f.code}] ${f.message}`];
  for (const r of f.resources) lines.push(`      ${locationText(r)}`);
  lines.push(`      fix: ${f.fix}`);
  return lines;
}

function locationText(r: ResourceLocation): string {
  if (r.file === undefined) return r.resource;
  const item = r.item !== undefined ? `, item ${r.item}` : '';
  return `${r.resource}  (${r.file}, document ${r.document}${item})`;
}

function logLines(log: DecisionLogSummary): string[] {
  const lines = [`Decision logs: ${log.records} decision(s) read from ${log.files.length} file(s)${log.badLines ? `; ${log.badLines} bad line(s) left out:` : '.'}`];
  for (const b of log.bad) lines.push(`  ${b.file}:${b.line}: ${b.reason}`);
  if (log.badLines > log.bad.length) lines.push(`  ... and ${log.badLines - log.bad.length} more`);
  return lines;
}

function groupLines(groups: readonly FlowGroup[], indent = ''): string[] {
  const lines = groups.slice(0, MAX_GROUPS_SHOWN).map((g) => `${indent}  ${String(g.count).padStart(7)}  ${g.client} -> ${targetOf(g)}\n${indent}           e.g. ${g.example.decisionId} (${g.example.file}:${g.example.line}): ${g.example.reason}`);
  if (groups.length > MAX_GROUPS_SHOWN) {
    const rest = groups.slice(MAX_GROUPS_SHOWN).reduce((n, g) => n + g.count, 0);
    lines.push(`${indent}  ... and ${groups.length - MAX_GROUPS_SHOWN} more group(s), ${rest} connection(s)`);
  }
  return lines;
}
