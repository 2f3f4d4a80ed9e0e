/** Small pieces the sections are made of. */
import type { ControlStatus } from '../../model.ts';
import { html, type Html, type HtmlPart } from './escape.ts';

export interface Column {
  label: string;
  num?: boolean;
}

export function table(columns: readonly Column[], rows: readonly (readonly HtmlPart[])[], empty: string): Html {
  if (rows.length === 0) return html`<p class="note">${empty}</p>`;
  return html`<table><thead><tr>${columns.map((c) => html`<th${c.num ? html` class="num"` : ''}>${c.label}</th>`)}</tr></thead><tbody>${rows.map(
    (row) => html`<tr>${row.map((cell, i) => html`<td${columns[i]?.num ? html` class="num"` : ''}>${cell}</td>`)}</tr>`,
  )}</tbody></table>`;
}

export function figure(label: string, value: HtmlPart, detail?: HtmlPart): Html {
  return html`<div class="figure"><div class="label">${label}</div><div class="value">${value}</div>${detail !== undefined ? html`<div class="note">${detail}</div>` : ''}</div>`;
}

export function section(id: string, title: string, body: HtmlPart, first = false): Html {
  return html`<section id="${id}"${first ? html` class="first"` : ''}><h2>${title}</h2>${body}</section>`;
}

const STATUS_TEXT: Record<ControlStatus, string> = { pass: 'PASS', fail: 'FAIL', 'not-applicable': 'N/A' };

export function status(s: ControlStatus): Html {
  return html`<span class="status status-${s}">${STATUS_TEXT[s]}</span>`;
}

export function mono(text: string): Html {
  return html`<code>${text}</code>`;
}
