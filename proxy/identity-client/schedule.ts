/**
 * When the identity client asks for its next certificate: pure functions of the certificate's
 * dates, the current time and a random source, so that they can be tested with tables.
 */

/** Linkerd's `LINKERD2_PROXY_IDENTITY_MIN_REFRESH` / `_MAX_REFRESH` defaults. */
export const DEFAULT_MIN_REFRESH_MS = 10_000;
export const DEFAULT_MAX_REFRESH_MS = 24 * 3_600_000;
/** Up to 10% earlier than the nominal refresh, so that proxies started together drift apart. */
export const DEFAULT_JITTER_FRACTION = 0.1;
/** The first retry after a failure; retries then back off up to the minimum refresh. */
export const DEFAULT_RETRY_MIN_MS = 1_000;
/** The share of the remaining lifetime after which a certificate is renewed, in percent. */
export const REFRESH_PERCENT = 70;

export interface RefreshDelayInput {
  /** When present and later than `now` (an issuer clock ahead of ours), the lifetime counts from it. */
  notBefore?: Date;
  notAfter: Date;
  now: Date;
  minMs?: number;
  maxMs?: number;
  jitterFraction?: number;
  /** Uniform in [0, 1), like Math.random. */
  random: () => number;
}

/**
 * The delay until the next renewal: 70% of the remaining lifetime, clamped to [minMs, maxMs],
 * then moved earlier by up to `jitterFraction` of itself, never below `minMs`. Jitter only ever
 * moves the renewal earlier, so it never eats into the 30% margin left for retries.
 *
 * @example
 * // A fresh 24 h certificate: about 16.8 h, minus up to 10%.
 * refreshDelayMs({ notAfter, now: clock.now(), random: Math.random });
 */
export function refreshDelayMs(input: RefreshDelayInput): number {
  const minMs = input.minMs ?? DEFAULT_MIN_REFRESH_MS;
  const maxMs = input.maxMs ?? DEFAULT_MAX_REFRESH_MS;
  const jitterFraction = input.jitterFraction ?? DEFAULT_JITTER_FRACTION;
  assertBounds(minMs, maxMs);
  if (!(jitterFraction >= 0 && jitterFraction < 1)) throw new TypeError('jitterFraction must be in [0, 1)');

  const now = input.now.getTime();
  const start = Math.max(now, input.notBefore?.getTime() ?? now);
  const wait = start - now;
  // An expired certificate (negative remainder) renews at the minimum, not at once: the minimum
  // is the floor that keeps a broken service from being hammered.
  // Integer arithmetic first: 0.7 * 86_400_000 is 60_479_999.99… in binary floating point.
  const nominal = wait + ((input.notAfter.getTime() - start) * REFRESH_PERCENT) / 100;
  const clamped = clamp(nominal, minMs, maxMs);
  const jittered = clamped - unit(input.random) * jitterFraction * clamped;
  return Math.floor(Math.max(minMs, jittered));
}

export interface RetryDelayOptions {
  /** The floor of every retry, and the first step; default 1 s. */
  minMs?: number;
  /** The cap; the client passes its minimum refresh (10 s by default). */
  maxMs: number;
  random: () => number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry after a failure): full jitter
 * over an exponential window, `minMs + random * (min(maxMs, minMs * 2^attempt) - minMs)`, so
 * always within [minMs, maxMs]. Linkerd retries at the minimum refresh; we start sooner (a
 * transient failure at start-up delays readiness by ~1 s, not 10 s) and spread a fleet's retries
 * so that an identity service coming back is not hit by every proxy at once.
 *
 * @example
 * retryDelayMs(1, { maxMs: 10_000, random: Math.random }); // in [1 s, 2 s)
 * retryDelayMs(9, { maxMs: 10_000, random: Math.random }); // in [1 s, 10 s)
 */
export function retryDelayMs(attempt: number, options: RetryDelayOptions): number {
  const minMs = options.minMs ?? DEFAULT_RETRY_MIN_MS;
  assertBounds(minMs, options.maxMs);
  if (!Number.isInteger(attempt) || attempt < 1) throw new TypeError('attempt must be an integer >= 1');
  // 2^attempt overflows to Infinity for very long outages; the cap absorbs it.
  const ceiling = Math.min(options.maxMs, minMs * 2 ** attempt);
  return Math.floor(minMs + unit(options.random) * (ceiling - minMs));
}

function assertBounds(minMs: number, maxMs: number): void {
  if (!(Number.isFinite(minMs) && minMs > 0)) throw new TypeError('minMs must be a positive number');
  if (!(Number.isFinite(maxMs) && maxMs >= minMs)) throw new TypeError('maxMs must be a number >= minMs');
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** A random source outside [0, 1) would break the bounds; clamp it rather than trust it. */
function unit(random: () => number): number {
  const r = random();
  return Number.isFinite(r) ? clamp(r, 0, 1) : 0;
}
