/** How figures read in evidence texts and documents: one place, so that Markdown and HTML agree. */
import { formatDuration } from '../common/duration.ts';

export function formatPercent(share: number | null): string {
  return share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `512 B`, `30.1 KiB`, `2.0 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `24h20s`, `12h`, `5m`, `30d`: hours up to three days (a leaf's lifetime reads exactly), days beyond. */
export function formatLifetime(ms: number): string {
  if (Math.abs(ms) >= 3 * 86_400_000) return formatDuration(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return `${sign}${parts.join('') || '0s'}`;
}

/** `364 days`, `1 day`, `expired 3 days ago`. */
export function formatDaysLeft(days: number): string {
  if (days < 0) return `expired ${-days} day${days === -1 ? '' : 's'} ago`;
  return `${days} day${days === 1 ? '' : 's'}`;
}

/** A SHA-256 fingerprint shortened for tables: the first 16 hex digits. */
export function shortFingerprint(fingerprint: string | null): string {
  return fingerprint ? `${fingerprint.slice(0, 16)}…` : 'unknown';
}

/** `2026-08-01 10:00 UTC` (minutes are enough for a document; the JSON keeps the full time). */
export function formatTime(iso: string | null): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return iso ?? 'unknown';
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `a, b and 3 more`: the first few of a list, for a one-line evidence text. */
export function firstFew(items: readonly string[], n = 3): string {
  if (items.length <= n) return items.join(', ');
  return `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}
