/**
 * The expiry timeline, as inline SVG: from now to the last expiry, one bar per anchor, the
 * issuer, and the current certificate of each identity (soonest first), ending at its notAfter;
 * lines mark now and 30 and 60 days ahead. Bars differ by pattern: solid valid, hatched under
 * 60 days, cross-hatched under 30; an expired certificate is written out.
 */
import { formatDaysLeft, formatLifetime } from '../../format.ts';
import type { ComplianceReport, ExpiryState } from '../../model.ts';
import { round, svgFrame, tickLabel } from './chart-axes.ts';
import { html, type Html } from './escape.ts';

export const EXPIRY_CHART_ID = 'chart-expiry-timeline';
/** Leaves shown; the rest are counted under the chart. */
export const MAX_LEAF_ROWS = 10;

const W = 860;
const ROW = 22;
const LABEL_W = 330;
const END_W = 170;
const TOP = 26;
const BOTTOM = 50;
const DAY = 86_400_000;

interface Row {
  role: 'anchor' | 'issuer' | 'leaf';
  name: string;
  notAfter: string;
  state: ExpiryState;
  daysLeft: number;
}

const DEFS = html`<defs><pattern id="pat-exp-warn" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="1" y1="0" x2="1" y2="6" stroke="#111" stroke-width="1.5"/></pattern><pattern id="pat-exp-crit" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#bbb"/><path d="M0 0L6 6M6 0L0 6" stroke="#111" stroke-width="1.2"/></pattern></defs>`;
const FILL: Record<ExpiryState, string> = { valid: '#555', warning: 'url(#pat-exp-warn)', critical: 'url(#pat-exp-crit)', expired: 'none', 'not-yet-valid': 'url(#pat-exp-crit)' };

export function expiryRows(r: ComplianceReport): { rows: Row[]; hiddenLeaves: number } {
  const now = Date.parse(r.generatedAt);
  const rows: Row[] = [
    ...r.trust.anchors.map((a) => ({ role: 'anchor' as const, name: a.subject, notAfter: a.notAfter, state: a.state, daysLeft: a.daysLeft })),
    ...(r.trust.issuer ? [{ role: 'issuer' as const, name: r.trust.issuer.subject, notAfter: r.trust.issuer.notAfter, state: r.trust.issuer.state, daysLeft: r.trust.issuer.daysLeft }] : []),
  ];
  const leaves = r.inventory.identities.filter((i) => i.current).sort((a, b) => Date.parse(a.latestNotAfter) - Date.parse(b.latestNotAfter));
  for (const leaf of leaves.slice(0, MAX_LEAF_ROWS)) {
    // A leaf lives a day by design: its bar is never a warning.
    rows.push({ role: 'leaf', name: leaf.identity, notAfter: leaf.latestNotAfter, state: 'valid', daysLeft: Math.floor((Date.parse(leaf.latestNotAfter) - now) / DAY) });
  }
  return { rows, hiddenLeaves: Math.max(0, leaves.length - MAX_LEAF_ROWS) };
}

export function expiryChart(r: ComplianceReport): Html {
  const { rows } = expiryRows(r);
  const title = 'Certificate and anchor expiry timeline';
  if (rows.length === 0) return svgFrame(EXPIRY_CHART_ID, W, 80, title, 'No anchor, issuer or current certificate was found.', html`<text x="${W / 2}" y="44" text-anchor="middle">No certificate to show.</text>`);
  const now = Date.parse(r.generatedAt);
  const end = Math.max(now + 90 * DAY, ...rows.map((x) => Date.parse(x.notAfter)));
  const x0 = LABEL_W;
  const pw = W - LABEL_W - END_W;
  const x = (t: number) => round(x0 + ((Math.max(now, Math.min(end, t)) - now) / (end - now)) * pw);
  const height = TOP + rows.length * ROW + BOTTOM;
  const plotBottom = TOP + rows.length * ROW;
  const desc = rows.map((row) => `${row.role} ${row.name}: ${row.notAfter} (${formatDaysLeft(row.daysLeft)})`).join('; ');
  const marks = [
    { t: now, label: 'now', dash: '' },
    { t: now + 30 * DAY, label: '30 days', dash: '6 3' },
    { t: now + 60 * DAY, label: '60 days', dash: '2 3' },
  ];
  const ticks = Array.from({ length: 5 }, (_, i) => now + ((end - now) * (i + 1)) / 5);
  return svgFrame(EXPIRY_CHART_ID, W, height, title, desc, [
    DEFS,
    html`<g class="marks">${marks.map((m) => html`<line data-mark="${m.label}" x1="${x(m.t)}" x2="${x(m.t)}" y1="${TOP - 6}" y2="${plotBottom}" stroke="#111" stroke-width="1" stroke-dasharray="${m.dash || 'none'}"/>`)}<text x="${x(now)}" y="${TOP - 10}" text-anchor="middle">now</text></g>`,
    html`<g class="rows">${rows.map((row, i) => {
      const y = TOP + i * ROW;
      const name = row.name.length > 44 ? `${row.name.slice(0, 43)}…` : row.name;
      const t = Date.parse(row.notAfter);
      const width = row.state === 'expired' ? 0 : Math.max(3, x(t) - x(now));
      // A leaf lives hours, not days: its time left reads in hours.
      const left = row.role === 'leaf' ? `${formatLifetime(t - now)} left` : formatDaysLeft(row.daysLeft);
      const label = row.state === 'expired' ? `EXPIRED ${row.notAfter.slice(0, 10)}` : `${row.notAfter.slice(0, 10)} · ${left}${row.state === 'valid' ? '' : ` · ${row.state}`}`;
      return html`<g data-role="${row.role}" data-state="${row.state}"><title>${row.role} ${row.name}: expires ${row.notAfter}</title><text x="${x0 - 8}" y="${y + 15}" text-anchor="end">${row.role}: ${name}</text><rect x="${x(now)}" y="${y + 4}" width="${round(width)}" height="${ROW - 8}" fill="${FILL[row.state]}" stroke="#111" stroke-width="0.6"/><text x="${round(x(now) + width + 5)}" y="${y + 15}">${label}</text></g>`;
    })}</g>`,
    html`<g class="ticks"><line class="axis" x1="${x0}" x2="${x0 + pw}" y1="${plotBottom}" y2="${plotBottom}"/>${ticks.map((t) => html`<text x="${x(t)}" y="${plotBottom + 16}" text-anchor="middle">${tickLabel(t, false)}</text>`)}</g>`,
    html`<g class="legend" transform="translate(20 ${height - 12})"><rect y="-9" width="14" height="10" fill="#555" stroke="#111" stroke-width="0.5"/><text x="20">valid</text><rect x="80" y="-9" width="14" height="10" fill="url(#pat-exp-warn)" stroke="#111" stroke-width="0.5"/><text x="100">under 60 days</text><rect x="210" y="-9" width="14" height="10" fill="url(#pat-exp-crit)" stroke="#111" stroke-width="0.5"/><text x="230">under 30 days</text>${marks.map(
      (m, i) => html`<line x1="${360 + i * 110}" x2="${360 + i * 110}" y1="-11" y2="2" stroke="#111" stroke-width="1" stroke-dasharray="${m.dash || 'none'}"/><text x="${366 + i * 110}">${m.label === 'now' ? 'now' : `in ${m.label}`}</text>`,
    )}</g>`,
  ]);
}
