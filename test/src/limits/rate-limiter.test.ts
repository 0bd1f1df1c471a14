import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { RateLimitedError } from '../../../src/errors.js';
import { AdaptiveConcurrency, ConcurrencyGate, MemoryRateStore, RateLimiter, type RateRule } from '../../../src/limits/rate-limiter.js';
import { ClientGoneError, RequestScope } from '../../../src/limits/request-scope.js';

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

describe('concurrency gate waits', () => {
  /** A gate of one slot held by a call that ends when told. */
  function held(options: ConstructorParameters<typeof ConcurrencyGate>[1] = {}) {
    const gate = new ConcurrencyGate(() => 1, { onTimeout: () => new Error('timed out'), ...options });
    let release!: () => void;
    const holding = gate.run(() => new Promise<void>((r) => (release = r)));
    return { gate, holding, release: () => release() };
  }

  test('a request scope that ends drops its waiting calls at once, unstarted, and keeps no listener', async () => {
    const { gate, holding, release } = held();
    const scope = new RequestScope(undefined, Date.now() + 60_000, 100);
    let started = 0;
    const waits = Array.from({ length: 40 }, () => gate.run(async () => void started++, scope).catch((e: unknown) => e));
    const other = new RequestScope(undefined, Date.now() + 60_000, 100);
    const stays = gate.run(async () => 'served', other);
    expect(gate.waiting).toBe(41);
    scope.end();
    const errors = await Promise.all(waits);
    expect(errors.every((e) => e instanceof ClientGoneError)).toBe(true);
    expect(gate.waiting).toBe(1);
    release();
    await holding;
    expect(await stays).toBe('served');
    expect(started).toBe(0);
    // Neither scope still holds a listener of the gate's.
    expect((scope as unknown as { watchers?: Set<unknown> }).watchers?.size ?? 0).toBe(0);
    expect((other as unknown as { watchers?: Set<unknown> }).watchers?.size ?? 0).toBe(0);
  });

  test('a scope already ended is refused without waiting; one ended by its own signal drops its calls with that reason', async () => {
    const { gate, release, holding } = held();
    const ended = new RequestScope(undefined, Date.now() + 60_000, 10);
    ended.end();
    await expect(gate.run(async () => 'x', ended)).rejects.toBeInstanceOf(ClientGoneError);
    const controller = new AbortController();
    const external = new RequestScope(controller.signal, Date.now() + 60_000, 10);
    const waits = [gate.run(async () => 'x', external), gate.run(async () => 'y', external)].map((p) => p.catch((e: unknown) => e));
    const reason = new Error('subscription over');
    controller.abort(reason);
    expect(await Promise.all(waits)).toEqual([reason, reason]);
    expect(gate.waiting).toBe(0);
    release();
    await holding;
  });

  test('waiters leave at their own deadlines, the earliest first, with one timer per gate', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const { gate, release, holding } = held({ now: () => Date.now() });
    const at = (ms: number) => ({ deadline: Date.now() + ms });
    const left: string[] = [];
    const wait = (name: string, ms: number) => gate.run(async () => name, at(ms)).then((v) => left.push(`ran ${v}`), (e: Error) => left.push(`${name}: ${e.message}`));
    const all = [wait('late', 300), wait('early', 100), wait('early too', 100), wait('middle', 200), wait('none', Number.POSITIVE_INFINITY)];
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(99);
    expect(left).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(left).toEqual(['early: timed out', 'early too: timed out']);
    await jest.advanceTimersByTimeAsync(100);
    expect(left).toEqual(['early: timed out', 'early too: timed out', 'middle: timed out']);
    release();
    await holding;
    await jest.advanceTimersByTimeAsync(0);
    // "late" got the slot before its deadline; with it gone nothing is armed any more.
    expect(left.slice(3)).toEqual(['ran late', 'ran none']);
    await Promise.all(all);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a step of the wall clock does not move a deadline already waiting', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const { gate, release, holding } = held({ now: () => Date.now() });
    const left: string[] = [];
    const wait = (name: string, ms: number) => gate.run(async () => name, { deadline: Date.now() + ms }).catch((e: Error) => void left.push(`${name} at ${Math.round(performance.now())}`));
    const t0 = Math.round(performance.now());
    const first = wait('first', 300);
    // The wall clock steps back a minute (NTP, a resumed VM); a later waiter with an earlier deadline re-arms the gate.
    jest.setSystemTime(Date.now() - 60_000);
    const second = wait('second', 100);
    await jest.advanceTimersByTimeAsync(300);
    expect(left).toEqual([`second at ${t0 + 100}`, `first at ${t0 + 300}`]);
    release();
    await Promise.all([holding, first, second]);
  });

  test('bounds with only a signal still leave when it aborts', async () => {
    const { gate, release, holding } = held();
    const controller = new AbortController();
    const waiting = gate.run(async () => 'x', { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('gone'));
    expect(((await waiting) as Error).message).toBe('gone');
    expect(gate.waiting).toBe(0);
    release();
    await holding;
  });
});
