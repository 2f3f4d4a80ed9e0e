/** The report's time window: what is counted, and small helpers on ISO times. */

/** True when `time` (ISO-8601) is at or after `since`; everything counts without a `since`. */
export function inWindow(time: string, since: Date | null): boolean {
  return since === null || Date.parse(time) >= since.getTime();
}

export function earliest(a: string, b: string): string {
  return Date.parse(b) < Date.parse(a) ? b : a;
}

export function latest(a: string, b: string): string {
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** `numerator / denominator`, or null when there is nothing to divide. */
export function share(numerator: number, denominator: number): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Any ISO-8601 time (with a zone) as UTC `...Z`. */
export function utc(time: string): string {
  return new Date(time).toISOString();
}
