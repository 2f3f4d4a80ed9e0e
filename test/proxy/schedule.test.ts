import { describe, expect, it } from 'vitest';
import { refreshDelayMs, retryDelayMs } from '../../proxy/identity-client/schedule.ts';

const T0 = Date.UTC(2026, 7, 1, 12, 0, 0);
const at = (offsetMs: number) => new Date(T0 + offsetMs);
const now = at(0);
const fixed = (r: number) => () => r;
const S = 1_000;
const H = 3_600_000;

describe('refreshDelayMs', () => {
  const cases: Array<{ name: string; notAfter: number; notBefore?: number; minMs?: number; maxMs?: number; want: number }> = [
    { name: 'ok/70% of a fresh 24 h certificate', notAfter: 24 * H, notBefore: -20 * S, want: 60_480_000 },
    { name: 'ok/70% of what remains, not of the whole lifetime', notAfter: 100 * S, notBefore: -10 * H, want: 70 * S },
    { name: 'ok/a notBefore ahead of our clock counts from notBefore', notAfter: 110 * S, notBefore: 10 * S, want: 80 * S },
    { name: 'clamp/short remainder -> min', notAfter: 10 * S, want: 10 * S },
    { name: 'clamp/expired -> min, never at once', notAfter: -5 * S, want: 10 * S },
    { name: 'clamp/long lifetime -> max 24 h', notAfter: 48 * H, want: 24 * H },
    { name: 'clamp/custom bounds', notAfter: 100 * S, minMs: 1 * S, maxMs: 5 * S, want: 5 * S },
    { name: 'clamp/custom min', notAfter: 1 * S, minMs: 200, want: 700 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const delay = refreshDelayMs({
        notAfter: at(c.notAfter),
        now,
        random: fixed(0),
        ...(c.notBefore !== undefined ? { notBefore: at(c.notBefore) } : {}),
        ...(c.minMs !== undefined ? { minMs: c.minMs } : {}),
        ...(c.maxMs !== undefined ? { maxMs: c.maxMs } : {}),
      });
      expect(delay).toBe(c.want);
    });
  }

  const jitter: Array<{ name: string; notAfter: number; random: number; jitterFraction?: number; want: number }> = [
    { name: 'jitter/none at random 0', notAfter: 100 * S, random: 0, want: 70_000 },
    { name: 'jitter/half of 10% at random 0.5', notAfter: 100 * S, random: 0.5, want: 66_500 },
    { name: 'jitter/almost 10% at random 0.999', notAfter: 100 * S, random: 0.999, want: 63_007 },
    { name: 'jitter/never below min', notAfter: 15 * S, random: 0.99, want: 10_000 },
    { name: 'jitter/none at a clamped minimum', notAfter: 1 * S, random: 0.99, want: 10_000 },
    { name: 'jitter/fraction 0 disables it', notAfter: 100 * S, random: 0.999, jitterFraction: 0, want: 70_000 },
    { name: 'jitter/fraction 0.5', notAfter: 100 * S, random: 0.5, jitterFraction: 0.5, want: 52_500 },
    { name: 'jitter/out-of-range random is clamped', notAfter: 100 * S, random: 7, want: 63_000 },
  ];
  for (const c of jitter) {
    it(c.name, () => {
      const delay = refreshDelayMs({
        notAfter: at(c.notAfter),
        now,
        random: fixed(c.random),
        ...(c.jitterFraction !== undefined ? { jitterFraction: c.jitterFraction } : {}),
      });
      expect(delay).toBe(c.want);
    });
  }

  it('jitter/stays within [90% of nominal, nominal] and above min for any random', () => {
    for (const remaining of [5 * S, 14 * S, 100 * S, 24 * H, 72 * H]) {
      const nominal = Math.min(24 * H, Math.max(10 * S, (remaining * 7) / 10));
      for (let r = 0; r < 1; r += 0.05) {
        const delay = refreshDelayMs({ notAfter: at(remaining), now, random: fixed(r) });
        expect(delay).toBeGreaterThanOrEqual(Math.max(10 * S, Math.floor(0.9 * nominal)));
        expect(delay).toBeLessThanOrEqual(nominal);
      }
    }
  });

  it('fail/misuse throws TypeError', () => {
    const base = { notAfter: at(100 * S), now, random: fixed(0) };
    expect(() => refreshDelayMs({ ...base, minMs: 0 })).toThrow(TypeError);
    expect(() => refreshDelayMs({ ...base, minMs: 10, maxMs: 5 })).toThrow(TypeError);
    expect(() => refreshDelayMs({ ...base, jitterFraction: 1 })).toThrow(TypeError);
    expect(() => refreshDelayMs({ ...base, jitterFraction: -0.1 })).toThrow(TypeError);
  });
});

describe('retryDelayMs', () => {
  const opts = { minMs: 1_000, maxMs: 10_000 };
  const cases: Array<{ name: string; attempt: number; random: number; want: number }> = [
    { name: 'floor/random 0 is always the minimum', attempt: 1, random: 0, want: 1_000 },
    { name: 'floor/random 0 after many failures', attempt: 30, random: 0, want: 1_000 },
    { name: 'growth/attempt 1 window [1 s, 2 s]', attempt: 1, random: 0.5, want: 1_500 },
    { name: 'growth/attempt 2 window [1 s, 4 s]', attempt: 2, random: 0.5, want: 2_500 },
    { name: 'growth/attempt 3 window [1 s, 8 s]', attempt: 3, random: 0.5, want: 4_500 },
    { name: 'cap/attempt 4 window capped at 10 s', attempt: 4, random: 0.5, want: 5_500 },
    { name: 'cap/attempt 60', attempt: 60, random: 0.5, want: 5_500 },
    { name: 'cap/attempt 5000 (2^n overflows)', attempt: 5_000, random: 0.999, want: 9_991 },
    { name: 'cap/random 1 reaches the cap, not beyond', attempt: 10, random: 1, want: 10_000 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(retryDelayMs(c.attempt, { ...opts, random: fixed(c.random) })).toBe(c.want);
    });
  }

  it('growth/the window widens with each failure until the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, { ...opts, random: fixed(0.999) }));
    expect(delays).toEqual([1_999, 3_997, 7_993, 9_991, 9_991, 9_991]);
  });

  it('bounds/within [min, max] for every attempt and random', () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      for (let r = 0; r < 1; r += 0.1) {
        const delay = retryDelayMs(attempt, { ...opts, random: fixed(r) });
        expect(delay).toBeGreaterThanOrEqual(1_000);
        expect(delay).toBeLessThanOrEqual(10_000);
      }
    }
  });

  it('defaults/the first step is 1 s', () => {
    expect(retryDelayMs(1, { maxMs: 10_000, random: fixed(0) })).toBe(1_000);
  });

  it('fail/misuse throws TypeError', () => {
    const random = fixed(0);
    expect(() => retryDelayMs(0, { ...opts, random })).toThrow(TypeError);
    expect(() => retryDelayMs(1.5, { ...opts, random })).toThrow(TypeError);
    expect(() => retryDelayMs(1, { minMs: 2_000, maxMs: 1_000, random })).toThrow(TypeError);
  });
});
