/** What both charts share: round axis maxima, UTC tick labels, and the SVG frame with its title. */
import { html, type Html, type HtmlPart } from './escape.ts';

/** The smallest of 1, 2, 5 x 10^k steps giving at most `ticks` steps up to `max`, and the axis top. */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const whole = Math.max(1, Math.ceil(step));
  return { top: Math.ceil(max / whole) * whole, step: whole };
}

/** `08-01 10:00` for buckets under a day, `2026-08-01` otherwise. */
export function tickLabel(ms: number, withinDay: boolean): string {
  const iso = new Date(ms).toISOString();
  return withinDay ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

/** Up to `n` indices spread evenly over 0..count-1, ends included. */
export function spread(count: number, n: number): number[] {
  if (count <= n) return Array.from({ length: count }, (_, i) => i);
  return [...new Set(Array.from({ length: n }, (_, k) => Math.round((k * (count - 1)) / (n - 1))))];
}

export function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** An accessible inline SVG: `role="img"`, labelled by its own title and description. */
export function svgFrame(id: string, width: number, height: number, title: string, desc: string, body: HtmlPart): Html {
  return html`<svg id="${id}" role="img" aria-labelledby="${id}-title ${id}-desc" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title id="${id}-title">${title}</title><desc id="${id}-desc">${desc}</desc>${body}</svg>`;
}
