/**
 * What an audit reports: findings, each with a stable code (CI and dashboards key on it), a
 * severity, the resources concerned (located in their files when we read them from one), one
 * line saying what is wrong and one saying how to fix it.
 */
import { keyOf, type ObjectMeta, type SourceRef } from '../resources/types.ts';

export const SEVERITIES = ['high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A resource a finding is about: `Server/demo/api`, `Namespace/demo`; file and document when known. */
export interface ResourceLocation {
  resource: string;
  file?: string;
  /** 1-based document in the file. */
  document?: number;
  /** 1-based item, inside a List document. */
  item?: number;
}

export interface Finding {
  /** Stable, kebab-case: `port-without-server`, `missing-server`, ... (the table in policy/README.md). */
  code: string;
  severity: Severity;
  /** The resource the finding is about first, then the others concerned. Empty for cluster-wide settings. */
  resources: ResourceLocation[];
  message: string;
  fix: string;
}

export type SeverityCounts = Record<Severity, number>;

/** `Server/demo/api` and where it was read. */
export function locate(resource: { kind: string; meta: ObjectMeta; source?: SourceRef }): ResourceLocation {
  const out: ResourceLocation = { resource: `${resource.kind}/${keyOf(resource.meta)}` };
  if (resource.source) {
    out.file = resource.source.file;
    out.document = resource.source.document;
    if (resource.source.item !== undefined) out.item = resource.source.item;
  }
  return out;
}

/** A resource referred to but not among those read: named, never located. */
export function missing(kind: string, namespace: string, name: string): ResourceLocation {
  return { resource: namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}` };
}

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** Most severe first, then by code, then by the first resource, then by message: a stable order. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(a.severity) - severityRank(b.severity) ||
    compareText(a.code, b.code) ||
    compareText(a.resources[0]?.resource ?? '', b.resources[0]?.resource ?? '') ||
    compareText(a.message, b.message)
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function countBySeverity(findings: readonly Finding[]): SeverityCounts {
  const counts: SeverityCounts = { high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The `--fail-on` threshold: a severity, or `none` (never fail). */
export type FailOn = Exclude<Severity, 'info'> | 'none';
export const FAIL_ON_CHOICES: readonly FailOn[] = ['high', 'medium', 'low', 'none'];

/** True when a finding is at or above `threshold`: the audit "failed" for CI. */
export function failsAt(findings: readonly Finding[], threshold: FailOn): boolean {
  if (threshold === 'none') return false;
  const limit = severityRank(threshold);
  return findings.some((f) => severityRank(f.severity) <= limit);
}
