import type { ComplianceReport } from '../model.ts';

/** `-o json`: the model itself, one object, keys in the model's fixed order. */
export function renderJson(report: ComplianceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
