import { RateLimitedError, type VendorName } from '../errors.js';
import { delay } from '../delay.js';
import type { Metrics } from '../metrics.js';
import { SlidingLog } from './sliding-log.js';

/** At most `limit` calls in any window of `windowMs` (a sliding window, as vendors count). */
export interface RateRule {
  limit: number;
  windowMs: number;
}

export type Reservation = { ok: true; at: number } | { ok: false; retryAfterMs: number };

/**
 * Where reservations are kept: in-process, or shared by replicas (Redis). A reservation either
 * books the earliest slot that keeps every rule, if it is within `maxWaitMs`, or books nothing.
 */
export interface RateStore {
  reserve(key: string, rules: RateRule[], now: number, maxWaitMs: number): Promise<Reservation> | Reservation;
}

/**
 * Sliding-log reservations: per key and rule, the times of the last `limit` booked slots. A new
 * slot is the earliest time at which, for every rule, the call `limit` places back has left the
 * window. Slots are booked in FIFO order, so a queue never starves.
 */
export class MemoryRateStore implements RateStore {
  private readonly logs = new Map<string, { slots: SlidingLog[]; last: number; longest: number }>();
  /** Keys at the last sweep: the next one waits until the map has doubled, so sweeping stays linear. */
  private swept = 10_000;

  reserve(key: string, rules: RateRule[], now: number, maxWaitMs: number): Reservation {
    let state = this.logs.get(key);
    if (!state) {
      // Per rule, only the last `limit` slots can decide the next one.
      state = { slots: rules.map((r) => new SlidingLog(r.limit)), last: 0, longest: Math.max(...rules.map((r) => r.windowMs)) };
      this.logs.set(key, state);
      if (this.logs.size > this.swept) this.sweep(now);
    }
    let at = Math.max(now, state.last);
    rules.forEach((rule, i) => (at = state.slots[i]!.nextSlot(at, rule.limit, rule.windowMs)));
    if (at - now > maxWaitMs) return { ok: false, retryAfterMs: at - now };
    for (const log of state.slots) log.add(at);
    state.last = at;
    return { ok: true, at };
  }

  /** Drops keys whose every booking has left its longest window. */
  private sweep(now: number): void {
    for (const [k, s] of this.logs) if (s.last + s.longest < now) this.logs.delete(k);
    this.swept = Math.max(10_000, this.logs.size * 2);
  }
}

export interface RateLimiterOptions {
  store?: RateStore;
  metrics?: Metrics;
  now?: () => number;
  /**
   * Added to every window: the vendor counts arrivals, and a call booked at t may arrive a little
   * later than one booked after it. The margin (at most a tenth of a window) absorbs that jitter.
   */
  safetyMs?: number;
  /** Most callers waiting on one key; more are refused at once. */
  maxQueue?: number;
}

export class RateLimiter {
  private readonly store: RateStore;
  private readonly now: () => number;
  private readonly safetyMs: number;
  private readonly maxQueue: number;
  private readonly waiting = new Map<string, number>();
  /** Keys the vendor told us to leave alone (Retry-After), until when (epoch ms). */
  private readonly paused = new Map<string, number>();

  constructor(private readonly options: RateLimiterOptions = {}) {
    this.store = options.store ?? new MemoryRateStore();
    this.now = options.now ?? (() => Date.now());
    this.safetyMs = options.safetyMs ?? 1000;
    this.maxQueue = options.maxQueue ?? 1000;
  }

  /**
   * Resolves when the call may go. Fails fast with RATE_LIMITED (and when to retry) if its slot
   * lies beyond `maxWaitMs` or the queue for the key is full; it never books a slot it won't use.
   */
  async acquire(vendor: VendorName, key: string, rules: RateRule[], maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    const queued = this.waiting.get(key) ?? 0;
    if (queued >= this.maxQueue) {
      this.options.metrics?.rateLimitWaits.inc({ vendor, result: 'refused' });
      throw new RateLimitedError(1, 'Too many calls queued for this vendor; retry later', { vendor });
    }
    // A tenth of the window, but at least 25 ms: on a short rule (one call per 100 ms) one late
    // timer would otherwise land two calls closer together at the vendor than the rule allows.
    const padded = this.safetyMs ? rules.map((r) => ({ limit: r.limit, windowMs: r.windowMs + Math.min(this.safetyMs, Math.max(25, r.windowMs / 10)) })) : rules;
    // Counted before the first await, so a burst of callers sees itself.
    this.waiting.set(key, queued + 1);
    try {
      const until = this.paused.get(key);
      if (until !== undefined) {
        const left = until - this.now();
        if (left <= 0) this.paused.delete(key);
        else if (left > maxWaitMs) {
          this.options.metrics?.rateLimitWaits.inc({ vendor, result: 'refused' });
          throw new RateLimitedError(left / 1000, 'The vendor asked for a pause; retry later', { vendor });
        } else {
          this.options.metrics?.rateLimitWaits.inc({ vendor, result: 'waited' });
          this.options.metrics?.rateLimitWaitSeconds.observe({ vendor }, left / 1000);
          await delay(left, signal);
          maxWaitMs -= left;
        }
      }
      const now = this.now();
      const r = await this.store.reserve(key, padded, now, Math.max(0, maxWaitMs));
      if (!r.ok) {
        this.options.metrics?.rateLimitWaits.inc({ vendor, result: 'refused' });
        throw new RateLimitedError(r.retryAfterMs / 1000, 'The vendor budget is used up for now; retry later', { vendor });
      }
      const wait = r.at - this.now();
      if (wait <= 0) return;
      this.options.metrics?.rateLimitWaits.inc({ vendor, result: 'waited' });
      this.options.metrics?.rateLimitWaitSeconds.observe({ vendor }, wait / 1000);
      await delay(wait, signal);
    } finally {
      const n = (this.waiting.get(key) ?? 1) - 1;
      if (n <= 0) this.waiting.delete(key);
      else this.waiting.set(key, n);
    }
  }

  /** The vendor answered "slow down, retry after `ms`": no call on this key goes before then. */
  pause(key: string, ms: number): void {
    const now = this.now();
    if (this.paused.size > 1000) for (const [k, t] of this.paused) if (t <= now) this.paused.delete(k);
    if (now + ms > (this.paused.get(key) ?? 0)) this.paused.set(key, now + ms);
  }
}

/** What a call waiting at a gate may be cut short by. */
export interface WaitBounds {
  /** The caller went away: leave the queue. */
  signal?: AbortSignal;
  /** Epoch ms: leave the queue with `onTimeout` when the turn has not come by then. */
  deadline?: number;
  /**
   * Told once when the caller goes, instead of `signal` (an abort listener per waiting call was a
   * visible share of a large batch); `offGone` stops telling.
   */
  onGone?(listener: (reason: Error) => void): void;
  offGone?(listener: (reason: Error) => void): void;
}

export interface GateOptions {
  /** Most callers waiting; one more is refused at once with `onFull()`. */
  maxQueue?: number;
  /** The clock deadlines are read on (epoch ms). */
  now?: () => number;
  onFull?: () => Error;
  onTimeout?: () => Error;
}

/**
 * A call waiting at a gate. A class rather than an object literal: a batch's waiters all live until
 * their turn, so V8 found each one alive at young-generation GCs and began allocating that literal
 * straight in the old generation ("pretenuring" its allocation site), where every dead waiter kept
 * what it referenced alive through later young GCs and made each of them slower. V8 decides that
 * per literal's allocation site; a class's instances have none.
 */
class Waiter {
  /** What leaves the queue when the caller goes (registered with its bounds). */
  gone?: (reason: Error) => void;
  /** Bounds with only a signal: removes the abort listener. */
  unlisten?: () => void;

  constructor(
    readonly resolve: () => void,
    readonly reject: (error: Error) => void,
    /**
     * When its deadline falls, on the monotonic clock (`performance.now()`), or Infinity: worked out
     * once, as it joins, so a step of the wall clock does not move a deadline already waiting.
     */
    readonly due: number,
    readonly bounds: WaitBounds | undefined,
  ) {}
}

/**
 * At most `limit()` calls in flight through this gate; waiters queue in FIFO order, at most
 * `maxQueue` of them. A waiter leaves the queue when its caller goes away or its deadline passes,
 * so abandoned work is never started and never holds a place. A released slot is handed straight
 * to the next waiter, so `active` already counts it.
 */
export class ConcurrencyGate {
  private active = 0;
  /** Insertion-ordered: the first is the oldest waiter; leaving from the middle is O(1). */
  private readonly queue = new Set<Waiter>();
  private readonly maxQueue: number;
  private timer?: NodeJS.Timeout;
  /** The due time (monotonic) `timer` is armed for (Infinity: none). */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly limit: () => number,
    private readonly options: GateOptions = {},
  ) {
    this.maxQueue = options.maxQueue ?? 1000;
  }

  get waiting(): number {
    return this.queue.size;
  }

  run<T>(fn: () => Promise<T>, bounds?: WaitBounds): Promise<T> {
    // No async/await here: this wraps every vendor call, and the common case never waits.
    if (this.active < this.limit()) {
      this.active++;
      return this.start(fn);
    }
    if (this.queue.size >= this.maxQueue) return Promise.reject(this.options.onFull?.() ?? new Error('too many calls waiting'));
    return this.wait(bounds).then(() => this.start(fn));
  }

  /**
   * `run` for work that tells the gate itself when it has ended, so that no promise is chained
   * after it: `fn` gets the slot's `release`, which it must call when its work has ended (calls
   * after the first do nothing). When the turn never comes (the queue is full, the caller went,
   * the deadline passed) `fn` never runs: `noTurn` is told and the promise rejects.
   */
  runHeld<T>(fn: (release: () => void) => Promise<T>, bounds?: WaitBounds, noTurn?: () => void): Promise<T> {
    if (this.active < this.limit()) {
      this.active++;
      return this.hold(fn);
    }
    if (this.queue.size >= this.maxQueue) {
      noTurn?.();
      return Promise.reject(this.options.onFull?.() ?? new Error('too many calls waiting'));
    }
    return this.wait(bounds).then(
      () => this.hold(fn),
      (error: unknown) => {
        noTurn?.();
        throw error;
      },
    );
  }

  /** Runs `fn` in a slot already counted, handing it the one way to give the slot back. */
  private hold<T>(fn: (release: () => void) => Promise<T>): Promise<T> {
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.release();
    };
    try {
      return fn(release);
    } catch (error) {
      release();
      return Promise.reject(error);
    }
  }

  private wait(bounds: WaitBounds | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const deadline = bounds?.deadline;
      const due = deadline !== undefined && Number.isFinite(deadline) ? performance.now() + (deadline - (this.options.now ?? Date.now)()) : Number.POSITIVE_INFINITY;
      const waiter = new Waiter(resolve, reject, due, bounds);
      this.queue.add(waiter);
      if (bounds) {
        waiter.gone = (reason) => this.leave(waiter, reason);
        if (bounds.onGone) bounds.onGone(waiter.gone);
        else if (bounds.signal) {
          // Read only here: a request scope makes its AbortController on first read.
          const signal = bounds.signal;
          if (signal.aborted) return this.leave(waiter, signal.reason as Error);
          const onAbort = () => this.leave(waiter, signal.reason as Error);
          signal.addEventListener('abort', onAbort, { once: true });
          waiter.unlisten = () => signal.removeEventListener('abort', onAbort);
        }
      }
      if (waiter.due !== Number.POSITIVE_INFINITY && this.queue.has(waiter)) this.arm(waiter.due);
    });
  }

  /** Takes a waiter out of the queue, no longer listening for its caller. False when it was not there. */
  private take(waiter: Waiter): boolean {
    if (!this.queue.delete(waiter)) return false;
    if (waiter.unlisten) waiter.unlisten();
    else if (waiter.gone) waiter.bounds?.offGone?.(waiter.gone);
    if (this.queue.size === 0) this.disarm();
    return true;
  }

  private leave(waiter: Waiter, error: Error): void {
    if (this.take(waiter)) waiter.reject(error);
  }

  /**
   * One timer per gate, for the earliest deadline waiting (a batch's calls share their request's
   * deadline, so a batch arms one timer, not one per call).
   */
  private arm(due: number): void {
    if (due >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(expireGate, Math.max(0, due - performance.now()), this);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** The timer for `timerAt` fired: every waiter due by then leaves; the next deadline is armed. */
  expire(): void {
    const due = this.timerAt;
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    let next = Number.POSITIVE_INFINITY;
    for (const waiter of this.queue) {
      if (waiter.due <= due) this.leave(waiter, this.options.onTimeout?.() ?? new Error('no turn before the deadline'));
      else if (waiter.due < next) next = waiter.due;
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }

  /** Runs `fn` in a slot already counted, and gives the slot back however it ends. */
  private start<T>(fn: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = fn();
    } catch (error) {
      this.release();
      return Promise.reject(error);
    }
    return running.then(this.settled, this.failed) as Promise<T>;
  }

  private readonly settled = <T>(value: T): T => {
    this.release();
    return value;
  };

  private readonly failed = (error: unknown): never => {
    this.release();
    throw error;
  };

  private release(): void {
    this.active--;
    this.drain();
  }

  drain(): void {
    while (this.queue.size > 0 && this.active < this.limit()) {
      const next = this.queue.values().next().value!;
      this.take(next);
      this.active++;
      next.resolve();
    }
  }
}

/** setTimeout's callback for a gate's deadline timer (an argument, so no closure per arming). */
function expireGate(gate: ConcurrencyGate): void {
  gate.expire();
}


/**
 * Concurrency that shrinks while a vendor throttles and grows back after (AIMD), for vendors
 * that publish no numbers ("dynamic throttle"). Two bounds share the one adaptive factor: each
 * `batch()` may have `current` calls in flight, and the whole process (`run`) `processMax` scaled
 * by the same factor, so a throttling vendor sees every caller of this replica back off, not only
 * each batch.
 */
export class AdaptiveConcurrency {
  readonly max: number;
  readonly processMax: number;
  private limit: number;
  private readonly shared: ConcurrencyGate;
  private readonly gateOptions: GateOptions;
  private successes = 0;
  private lastDecrease = 0;
  private readonly now: () => number;

  constructor(max: number, options: { processMax?: number; now?: () => number } & GateOptions = {}) {
    this.gateOptions = { maxQueue: options.maxQueue, onFull: options.onFull, onTimeout: options.onTimeout, now: options.now };
    this.shared = new ConcurrencyGate(() => this.processLimit, this.gateOptions);
    this.max = max;
    this.processMax = Math.max(max, options.processMax ?? max);
    this.now = options.now ?? (() => Date.now());
    this.limit = max;
  }

  /** Calls one batch may have in flight now. */
  get current(): number {
    return this.limit;
  }

  /** Calls the whole process may have in flight now. */
  get processLimit(): number {
    return Math.max(1, Math.floor((this.processMax * this.limit) / this.max));
  }

  /** Runs under the process-wide bound. */
  run<T>(fn: () => Promise<T>, bounds?: WaitBounds): Promise<T> {
    return this.shared.run(fn, bounds);
  }

  /** `runHeld` under the process-wide bound (see ConcurrencyGate.runHeld). */
  runHeld<T>(fn: (release: () => void) => Promise<T>, bounds?: WaitBounds, noTurn?: () => void): Promise<T> {
    return this.shared.runHeld(fn, bounds, noTurn);
  }

  /** Calls waiting for the process-wide bound. */
  get waiting(): number {
    return this.shared.waiting;
  }

  /** A gate of its own for one batch, bounded by the shared, adaptive limit. */
  batch(): ConcurrencyGate {
    return new ConcurrencyGate(() => this.limit, { ...this.gateOptions, maxQueue: Number.POSITIVE_INFINITY });
  }

  /** The vendor throttled: halve, at most once per second so a burst of 429s counts once. */
  throttled(): void {
    const t = this.now();
    if (t - this.lastDecrease < 1000) return;
    this.lastDecrease = t;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.successes = 0;
  }

  /** A call went through: after `limit` successes in a row, allow one more. */
  succeeded(): void {
    if (this.limit >= this.max) return;
    if (++this.successes >= this.limit) {
      this.successes = 0;
      this.limit++;
      this.shared.drain();
    }
  }
}
