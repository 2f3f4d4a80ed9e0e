import { UsageError } from './errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * Parses a duration such as `24h`, `90s`, `1h30m`, `365d` or `500ms` into milliseconds.
 * A bare number is refused: the unit is what makes a lifetime unambiguous.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|y)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(trimmed); m; m = part.exec(trimmed)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    consumed = part.lastIndex;
  }
  if (trimmed === '' || consumed !== trimmed.length) {
    throw new UsageError(
      `${what} "${text}" is not a duration; write it as a number with a unit, e.g. 24h, 90s, 1h30m, 365d`,
    );
  }
  return Math.round(total);
}

/** Formats milliseconds for people: `23h59m`, `364d`, `45s`. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(Math.round(ms / 1000));
  const d = Math.floor(rest / 86_400);
  rest -= d * 86_400;
  const h = Math.floor(rest / 3_600);
  rest -= h * 3_600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  if (d > 0) return `${sign}${d}d${h ? `${h}h` : ''}`;
  if (h > 0) return `${sign}${h}h${m ? `${m}m` : ''}`;
  if (m > 0) return `${sign}${m}m${s ? `${s}s` : ''}`;
  return `${sign}${s}s`;
}
