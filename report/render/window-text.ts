import { formatTime } from '../format.ts';
import type { ReportWindow } from '../model.ts';

/** `data since 2026-08-01 09:00 UTC` or `all recorded data`. */
export function windowText(w: ReportWindow): string {
  return w.since ? `data from ${formatTime(w.since)} to ${formatTime(w.until)}` : `all recorded data up to ${formatTime(w.until)}`;
}
