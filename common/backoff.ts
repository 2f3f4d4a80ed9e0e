/**
 * Capped exponential backoff with jitter, for every loop that retries a remote peer (the API
 * server, the policy controller). The delay of attempt n (from 0) is drawn from
 * [ceiling/2, ceiling] with ceiling = min(maxMs, initialMs * 2^n): peers that lost a server
 * together do not all come back to it in the same millisecond.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export function backoffDelayMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
