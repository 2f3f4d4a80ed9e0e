/**
 * HTML built by a tagged template that escapes every interpolated value, so that a string from
 * the data (an identity, a reason, a file name) can only ever land as text:
 *   html`<td>${record.reason}</td>`           // escaped
 *   html`<tr>${rows.map((r) => html`<td>${r}</td>`)}</tr>`  // fragments pass through
 * Attribute values must be double-quoted in the template; quotes are escaped too.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlPart = Html | string | number | boolean | null | undefined | readonly HtmlPart[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export function html(strings: TemplateStringsArray, ...values: HtmlPart[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out);
}

/** Markup made by this module's own code (CSS, numbers formatted here); never data. */
export function trusted(markup: string): Html {
  return new Html(markup);
}

function render(value: HtmlPart): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false || value === true) return '';
  return escapeHtml(String(value));
}
