import type { ComplianceReport } from '../model.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderMarkdown } from './markdown.ts';

export const REPORT_FORMATS = ['json', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function renderReport(report: ComplianceReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return renderJson(report);
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
  }
}

export { renderHtml, renderJson, renderMarkdown };
export { COVERAGE_CHART_ID, EXPIRY_CHART_ID } from './html.ts';
