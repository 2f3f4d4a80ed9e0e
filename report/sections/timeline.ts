/**
 * mTLS coverage over time: decisions counted in buckets of one width, chosen so that the window
 * has at most MAX_BUCKETS of them (five-minute buckets for a two-hour run, hours for a few days).
 * Buckets are aligned to UTC and empty ones are kept, so that a gap in traffic shows as a gap.
 */
import type { DecisionRecord } from '../../policy/audit/decision-log.ts';
import type { CoverageBucket, CoverageTimeline } from '../model.ts';
import { share } from '../window.ts';

export const MAX_BUCKETS = 48;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

/** The narrowest step giving at most MAX_BUCKETS buckets over [startMs, endMs]. */
export function bucketWidth(startMs: number, endMs: number): number {
  const fits = (step: number) => Math.floor(endMs / step) - Math.floor(startMs / step) + 1 <= MAX_BUCKETS;
  return STEPS.find(fits) ?? Math.ceil((endMs - startMs + 1) / (MAX_BUCKETS - 1) / DAY) * DAY;
}

/**
 * @param records the decisions in the window
 * @param range where the window starts and ends; it is widened to hold every record
 */
export function coverageTimeline(records: readonly DecisionRecord[], range: { since: Date | null; until: Date }): CoverageTimeline {
  if (records.length === 0) return { bucketMs: 0, buckets: [] };
  const times = records.map((r) => Date.parse(r.time));
  // A loop, not Math.min(...times): a long log would overflow the argument list.
  let first = Infinity;
  let last = -Infinity;
  for (const t of times) {
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  const startMs = range.since ? Math.min(range.since.getTime(), first) : first;
  const endMs = range.since ? Math.max(range.until.getTime(), last) : last;
  const step = bucketWidth(startMs, endMs);
  const origin = Math.floor(startMs / step) * step;
  const count = Math.floor(endMs / step) - Math.floor(startMs / step) + 1;
  const buckets: CoverageBucket[] = Array.from({ length: count }, (_, i) => ({
    start: new Date(origin + i * step).toISOString(),
    mtlsConnections: 0,
    plaintextConnections: 0,
    deniedConnections: 0,
    mtlsBytes: 0,
    plaintextBytes: 0,
    connectionShare: null,
  }));
  records.forEach((r, i) => {
    const bucket = buckets[Math.floor((times[i]! - origin) / step)]!;
    const bytes = r.bytesIn + r.bytesOut;
    if (r.decision === 'deny') bucket.deniedConnections++;
    else if (r.tls) {
      bucket.mtlsConnections++;
      bucket.mtlsBytes += bytes;
    } else {
      bucket.plaintextConnections++;
      bucket.plaintextBytes += bytes;
    }
  });
  for (const b of buckets) b.connectionShare = share(b.mtlsConnections, b.mtlsConnections + b.plaintextConnections);
  return { bucketMs: step, buckets };
}
