/**
 * `-o html`: one self-contained file — inline CSS and inline SVG charts, no script, no external
 * resource (a Content-Security-Policy forbids both) — that reads on screen and printed in black
 * and white. Every string from the data is escaped by the `html` template.
 */
import { formatCount, formatPercent, formatTime } from '../format.ts';
import type { ComplianceReport } from '../model.ts';
import { html, trusted } from './html/escape.ts';
import { figure, section } from './html/parts.ts';
import { inventorySection, ledgerSection, rotationSection, sourcesSection, trustSection } from './html/sections-identity.ts';
import { controlsSection, denialsSection, mtlsSection, policySection } from './html/sections-traffic.ts';
import { STYLE } from './html/style.ts';
import { windowText } from './window-text.ts';

export { COVERAGE_CHART_ID } from './html/coverage-chart.ts';
export { EXPIRY_CHART_ID } from './html/expiry-chart.ts';

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

export function renderHtml(r: ComplianceReport): string {
  const s = r.summary;
  const nearest = [...r.trust.anchors.map((a) => a.daysLeft), ...(r.trust.issuer ? [r.trust.issuer.daysLeft] : [])];
  const summary = section(
    'summary',
    'Summary',
    html`<div class="figures">
${figure('Controls', `${s.pass} pass · ${s.fail} fail`, `${s.notApplicable} not applicable`)}
${figure('mTLS connections', formatPercent(r.mtls.connectionShare), `${formatCount(r.mtls.admitted.connections)} admitted, ${formatCount(r.mtls.denied.connections)} refused`)}
${figure('Certificates issued', formatCount(r.inventory.certificates), `${formatCount(r.inventory.identities.length)} identities`)}
${figure('Ledger', r.ledger.verified === null ? 'absent' : r.ledger.verified ? 'verified' : 'NOT verified', `${formatCount(r.ledger.records)} records`)}
${figure('Trust chain', nearest.length ? `${Math.min(...nearest)} days` : 'n/a', 'until the first anchor or issuer expires')}
</div>`,
    true,
  );
  const doc = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Compliance report — ${formatTime(r.generatedAt)}</title>
<style>${trusted(STYLE)}</style>
</head>
<body>
<header><h1>Compliance report</h1><p class="meta">Generated ${formatTime(r.generatedAt)} for the identity home <code>${r.sources.home}</code>; ${windowText(r.window)}.</p></header>
<main>
${summary}
${controlsSection(r)}
${mtlsSection(r)}
${inventorySection(r)}
${ledgerSection(r)}
${trustSection(r)}
${rotationSection(r)}
${policySection(r)}
${denialsSection(r)}
${sourcesSection(r)}
</main>
</body>
</html>
`;
  return doc.value;
}
