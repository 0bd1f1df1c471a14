import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { RateLimitedError } from '../../../src/errors.js';
import { AdaptiveConcurrency, MemoryRateStore, RateLimiter, type RateRule } from '../../../src/limits/rate-limiter.js';

afterEach(() => {
  jest.useRealTimers();
});

/** The most events in any window of `windowMs` (the vendor's sliding count). */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('rate limiter', () => {
  test('a burst never puts more than the budget into any sliding window', async () => {
    jest.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ safetyMs: 0 });
    const rules: RateRule[] = [{ limit: 30, windowMs: 60_000 }];
    const sent: number[] = [];
    const refused: number[] = [];
    const calls = Array.from({ length: 200 }, (_, i) =>
      limiter.acquire('PLATFORM', 'platform:POST /x', rules, 10 * 60_000).then(
        () => sent.push(Date.now()),
        (e: unknown) => refused.push(i) && expect(e).toBeInstanceOf(RateLimitedError),
      ),
    );
    await jest.advanceTimersByTimeAsync(10 * 60_000);
    await Promise.all(calls);
    expect(sent).toHaveLength(200);
    expect(maxInWindow(sent, 60_000)).toBe(30);
    // The first 30 went at once: bursts are allowed up to the budget, not beyond.
    expect(sent.filter((t) => t === 0)).toHaveLength(30);
  });

  test('several rules at once: 1 per 100 ms and 5 per second', async () => {
    jest.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ safetyMs: 0 });
    const rules = [
      { limit: 1, windowMs: 100 },
      { limit: 5, windowMs: 1000 },
    ];
    const sent: number[] = [];
    const calls = Array.from({ length: 12 }, () => limiter.acquire('NEXUDUS', 'n', rules, 60_000).then(() => sent.push(Date.now())));
    await jest.advanceTimersByTimeAsync(5000);
    await Promise.all(calls);
    expect(maxInWindow(sent, 100)).toBe(1);
    expect(maxInWindow(sent, 1000)).toBe(5);
  });

  test('a call whose slot lies beyond its deadline fails fast with RATE_LIMITED and retryAfter, booking nothing', async () => {
    const store = new MemoryRateStore();
    const limiter = new RateLimiter({ store, safetyMs: 0 });
    const rules = [{ limit: 2, windowMs: 60_000 }];
    await limiter.acquire('PLATFORM', 'k', rules, 1000);
    await limiter.acquire('PLATFORM', 'k', rules, 1000);
    const started = Date.now();
    const error = await limiter.acquire('PLATFORM', 'k', rules, 1000).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfter).toBeGreaterThanOrEqual(59);
    expect((error as RateLimitedError).extensions).toMatchObject({ code: 'RATE_LIMITED', vendor: 'PLATFORM' });
    // Nothing was booked by the refused call: the next slot is still 60 s after the first.
    const r = store.reserve('k', rules, Date.now(), 120_000);
    expect(r.ok && r.at - started).toBeLessThanOrEqual(60_000);
  });

  test('queues are bounded', async () => {
    jest.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ safetyMs: 0, maxQueue: 3 });
    const rules = [{ limit: 1, windowMs: 1000 }];
    await limiter.acquire('NUREVA', 'q', rules, 60_000);
    const waiting = [1, 2, 3].map(() => limiter.acquire('NUREVA', 'q', rules, 60_000));
    await expect(limiter.acquire('NUREVA', 'q', rules, 60_000)).rejects.toBeInstanceOf(RateLimitedError);
    await jest.advanceTimersByTimeAsync(5000);
    await Promise.all(waiting);
  });

  test('windows carry a safety margin for arrival jitter', async () => {
    jest.useFakeTimers({ now: 0 });
    const limiter = new RateLimiter({ safetyMs: 1000 });
    const sent: number[] = [];
    const calls = Array.from({ length: 4 }, () => limiter.acquire('PLATFORM', 's', [{ limit: 2, windowMs: 60_000 }], 600_000).then(() => sent.push(Date.now())));
    await jest.advanceTimersByTimeAsync(200_000);
    await Promise.all(calls);
    expect(sent).toEqual([0, 0, 61_000, 61_000]);
    // A short rule gets at least 25 ms, not a tenth of its window (10 ms).
    const short: number[] = [];
    const start = Date.now();
    const quick = Array.from({ length: 3 }, () => limiter.acquire('NEXUDUS', 'q', [{ limit: 1, windowMs: 100 }], 10_000).then(() => short.push(Date.now() - start)));
    await jest.advanceTimersByTimeAsync(1_000);
    await Promise.all(quick);
    expect(short).toEqual([0, 125, 250]);
  });
});

describe('adaptive concurrency', () => {
  test('never more in flight than the limit; halves when throttled and grows back', async () => {
    const c = new AdaptiveConcurrency(8);
    let active = 0;
    let peak = 0;
    const work = () =>
      c.run(async () => {
        peak = Math.max(peak, ++active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
      });
    await Promise.all(Array.from({ length: 40 }, work));
    expect(peak).toBe(8);
    c.throttled();
    expect(c.current).toBe(4);
    c.throttled(); // within a second: counted once
    expect(c.current).toBe(4);
    peak = 0;
    await Promise.all(Array.from({ length: 8 }, work));
    expect(peak).toBeLessThanOrEqual(5);
    for (let i = 0; i < 100; i++) c.succeeded();
    expect(c.current).toBe(8);
  });

  test('batches each get the limit; the process bound scales with it when throttled', async () => {
    const c = new AdaptiveConcurrency(4, { processMax: 6 });
    let active = 0;
    const peaks: number[] = [];
    const batch = async () => {
      const gate = c.batch();
      let mine = 0;
      let peak = 0;
      await Promise.all(
        Array.from({ length: 12 }, () =>
          gate.run(() =>
            c.run(async () => {
              peak = Math.max(peak, ++mine);
              peaks.push(++active);
              await new Promise((r) => setTimeout(r, 5));
              active--;
              mine--;
            }),
          ),
        ),
      );
      return peak;
    };
    // Two batches of 12: each up to 4 of its own, 6 between them.
    expect(await Promise.all([batch(), batch()])).toEqual([4, 4]);
    expect(Math.max(...peaks)).toBe(6);
    c.throttled();
    expect([c.current, c.processLimit]).toEqual([2, 3]);
    peaks.length = 0;
    expect(await Promise.all([batch(), batch()])).toEqual([2, 2]);
    expect(Math.max(...peaks)).toBe(3);
  });
});
