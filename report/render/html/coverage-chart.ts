/**
 * mTLS coverage over time, as inline SVG: per bucket, stacked bars of mutually authenticated
 * (solid), plaintext (hatched) and refused (dotted) connections on the left axis, and the mTLS
 * share of admitted connections as a dashed line on the right axis (0-100%).
 */
import { formatCount, formatPercent } from '../../format.ts';
import type { CoverageTimeline, MtlsCoverage } from '../../model.ts';
import { niceScale, round, spread, svgFrame, tickLabel } from './chart-axes.ts';
import { html, type Html } from './escape.ts';

export const COVERAGE_CHART_ID = 'chart-mtls-coverage';

const W = 760;
const H = 300;
const M = { left: 48, right: 52, top: 14, bottom: 74 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
const DAY = 86_400_000;

const DEFS = html`<defs><pattern id="pat-cov-plain" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="1" y1="0" x2="1" y2="6" stroke="#111" stroke-width="2"/></pattern><pattern id="pat-cov-denied" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#ddd"/><circle cx="2.5" cy="2.5" r="1.1" fill="#111"/></pattern></defs>`;

const SERIES = [
  { key: 'mtls', label: 'mutual TLS', fill: '#333' },
  { key: 'plaintext', label: 'plaintext', fill: 'url(#pat-cov-plain)' },
  { key: 'denied', label: 'refused', fill: 'url(#pat-cov-denied)' },
] as const;

export function coverageChart(m: MtlsCoverage): Html {
  const t = m.timeline;
  const title = 'mTLS coverage over time';
  if (t.buckets.length === 0) {
    return svgFrame(COVERAGE_CHART_ID, W, 80, title, 'No connection was recorded in this window.', html`<text x="${W / 2}" y="44" text-anchor="middle">No connection recorded in this window.</text>`);
  }
  const desc =
    `${formatCount(m.admitted.mtlsConnections)} mutual TLS, ${formatCount(m.admitted.plaintextConnections)} plaintext and ${formatCount(m.denied.connections)} refused connections ` +
    `in ${t.buckets.length} buckets from ${t.buckets[0]!.start}; ${formatPercent(m.connectionShare)} of admitted connections mutually authenticated.`;
  return svgFrame(COVERAGE_CHART_ID, W, H, title, desc, [DEFS, axes(t), bars(t), shareLine(t), legend()]);
}

function scale(t: CoverageTimeline) {
  const max = Math.max(...t.buckets.map((b) => b.mtlsConnections + b.plaintextConnections + b.deniedConnections));
  const { top, step } = niceScale(max);
  const bw = PW / t.buckets.length;
  return { top, step, bw, y: (n: number) => M.top + PH - (n / top) * PH };
}

function axes(t: CoverageTimeline): Html {
  const { top, step, bw, y } = scale(t);
  const ticks = Array.from({ length: Math.floor(top / step) + 1 }, (_, i) => i * step);
  const labels = spread(t.buckets.length, 6);
  const withinDay = t.bucketMs < DAY;
  return html`<g class="axes">
${ticks.map((v) => html`<line class="grid" x1="${M.left}" x2="${M.left + PW}" y1="${round(y(v))}" y2="${round(y(v))}"/><text x="${M.left - 6}" y="${round(y(v)) + 4}" text-anchor="end">${formatCount(v)}</text>`)}
${[0, 50, 100].map((p) => html`<text x="${M.left + PW + 6}" y="${round(M.top + PH - (p / 100) * PH) + 4}">${p}%</text>`)}
<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}"/><line class="axis" x1="${M.left + PW}" x2="${M.left + PW}" y1="${M.top}" y2="${M.top + PH}"/><line class="axis" x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}"/>
${labels.map((i) => html`<text x="${round(M.left + (i + 0.5) * bw)}" y="${M.top + PH + 16}" text-anchor="middle">${tickLabel(Date.parse(t.buckets[i]!.start), withinDay)}</text>`)}
<text x="${M.left - 40}" y="${M.top + 8}" transform="rotate(-90 ${M.left - 40} ${M.top + 8})" text-anchor="end">connections</text>
<text x="${M.left + PW + 46}" y="${M.top + 8}" transform="rotate(-90 ${M.left + PW + 46} ${M.top + 8})" text-anchor="end">mTLS share</text>
</g>`;
}

function bars(t: CoverageTimeline): Html {
  const { bw, y } = scale(t);
  const width = Math.max(1, bw * 0.72);
  return html`<g class="bars">${t.buckets.map((b, i) => {
    const x = round(M.left + i * bw + (bw - width) / 2);
    let base = 0;
    return SERIES.map((s) => {
      const n = s.key === 'mtls' ? b.mtlsConnections : s.key === 'plaintext' ? b.plaintextConnections : b.deniedConnections;
      if (n === 0) return '';
      const y0 = y(base);
      base += n;
      const y1 = y(base);
      return html`<rect data-series="${s.key}" x="${x}" y="${round(y1)}" width="${round(width)}" height="${round(y0 - y1)}" fill="${s.fill}" stroke="#111" stroke-width="0.5"><title>${b.start}: ${formatCount(n)} ${s.label}</title></rect>`;
    });
  })}</g>`;
}

function shareLine(t: CoverageTimeline): Html {
  const { bw } = scale(t);
  const points = t.buckets.flatMap((b, i) =>
    b.connectionShare === null ? [] : [{ x: round(M.left + (i + 0.5) * bw), y: round(M.top + PH - b.connectionShare * PH), b }],
  );
  if (points.length === 0) return html``;
  return html`<g class="share"><polyline data-series="share" points="${points.map((p) => `${p.x},${p.y}`).join(' ')}" fill="none" stroke="#111" stroke-width="1.5" stroke-dasharray="5 3"/>${points.map(
    (p) => html`<circle cx="${p.x}" cy="${p.y}" r="2.8" fill="#fff" stroke="#111" stroke-width="1.2"><title>${p.b.start}: ${formatPercent(p.b.connectionShare)} mutual TLS</title></circle>`,
  )}</g>`;
}

function legend(): Html {
  const y = H - 22;
  const items = [...SERIES.map((s) => ({ label: s.label, swatch: html`<rect width="14" height="10" y="-9" fill="${s.fill}" stroke="#111" stroke-width="0.5"/>` })), { label: 'mTLS share (right axis)', swatch: html`<line x1="0" x2="14" y1="-4" y2="-4" stroke="#111" stroke-width="1.5" stroke-dasharray="5 3"/>` }];
  return html`<g class="legend">${items.map((item, i) => html`<g transform="translate(${M.left + i * 150} ${y})">${item.swatch}<text x="20" y="0">${item.label}</text></g>`)}</g>`;
}
