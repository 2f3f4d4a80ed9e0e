/**
 * The document's only style sheet, inline. Everything reads in black and white: states carry a
 * word and a symbol, chart series differ by pattern as well as tone. Printed, each section starts
 * a page and tables repeat their headers.
 */
export const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #111; background: #fff; max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #111; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 6px 0; }
.meta { color: #333; margin-bottom: 16px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #777; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #e8e8e8; font-weight: 700; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12px; overflow-wrap: anywhere; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 10px; margin: 10px 0 14px; }
.figure { border: 1px solid #777; padding: 8px 10px; }
.figure .label { font-size: 12px; color: #333; }
.figure .value { font-size: 22px; font-weight: 700; }
.status { font-weight: 700; white-space: nowrap; }
.status-pass::before { content: "\\2714\\00a0"; }
.status-fail::before { content: "\\2718\\00a0"; }
.status-fail { text-decoration: underline; text-decoration-thickness: 2px; }
.status-not-applicable::before { content: "\\2013\\00a0"; }
.status-not-applicable { font-weight: 400; color: #333; }
.state-expired, .state-critical, .state-not-yet-valid { font-weight: 700; text-decoration: underline; }
.state-warning { font-weight: 700; }
.warnings { border: 2px solid #111; padding: 6px 10px; margin: 8px 0; }
.note { color: #333; font-size: 12px; }
figure { margin: 10px 0 16px; }
figcaption { font-size: 12px; color: #333; margin-top: 4px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 11px; fill: #111; }
svg .axis { stroke: #111; stroke-width: 1; }
svg .grid { stroke: #bbb; stroke-width: 0.5; }
ul { margin: 6px 0; padding-left: 20px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section { break-before: page; }
  section.first { break-before: auto; }
  h2, h3 { break-after: avoid; }
  tr, figure, .figure, .warnings { break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: none; border-bottom: 2px solid #111; }
}
`;
