import { SharedStateUnavailableError } from '../../errors.js';
import type { RateRule, RateStore, Reservation } from '../../limits/rate-limiter.js';
import type { Breaker } from './breaker.js';
import type { Client } from './client.js';
import { Durability } from './durability.js';

/** One of this replica's bookings, and for each rule whether Redis could not vouch for it. */
interface Booking {
  at: number;
  unvouched: boolean[];
}

interface OwnBookings {
  /** By slot, oldest first, none older than the longest window. */
  bookings: Booking[];
  /** Slot of the latest booking made without Redis. */
  lastLocal: number;
  longestMs: number;
}

/**
 * Budgets shared by all replicas, booked atomically in Redis. Redis' count may lack calls of the
 * current window while Redis is down (the replica books locally), after Redis lost its data (the
 * bookings made before are gone), and after this replica booked locally (Redis never saw those).
 * A booking made then is unvouched for a rule, and the replica makes it only if, in that rule's
 * window, all its own bookings stay within its share (limit ÷ REPLICAS) and its unvouched ones
 * within share ÷ (REPLICAS − 1), both rounded down but at least 1; while Redis is up, Redis
 * must accept it too.
 *
 * Why the fleet then stays within the limit plus one share in any window: the vouched bookings
 * are at most the limit (Redis counted them all). If some replica made no unvouched booking in
 * the window, the other REPLICAS − 1 add at most share ÷ (REPLICAS − 1) each: one share. If every
 * replica made one, each kept all its bookings of the window within its share: the limit. (A
 * replica that starts on a Redis just restarted empty, before any older replica saw it, cannot
 * know of the loss.)
 */
export class RedisRateStore implements RateStore {
  private readonly own = new Map<string, OwnBookings>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /**
   * The longest wait any call was allowed: slots booked before Redis lost its data lay at most
   * this far ahead (assumed: replicas share one configuration).
   */
  private slackMs = 0;

  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
    private readonly replicas: number,
    private readonly onFallback: () => void,
    /** How long after Redis went away calls wait for it rather than book locally (REDIS_BUDGET_GRACE_MS). */
    private readonly graceMs = 10_000,
    /** Bookings wait for replicas as session writes do: a failover then forgets none. */
    private readonly durability = new Durability(0, 100),
  ) {}

  async reserve(key: string, rules: RateRule[], now: number, maxWaitMs: number): Promise<Reservation> {
    // Redis went away moments ago (a failover?): nothing is booked without it, as sessions fail closed.
    if (this.inGrace()) throw new SharedStateUnavailableError('The vendor budget');
    this.slackMs = Math.max(this.slackMs, maxWaitMs);
    const own = this.bookingsOf(key, rules, now);
    if (this.breaker.up && !this.unsure(own, rules, Math.max(now, this.lastOf(own))).some(Boolean)) {
      const answer = await this.book(key, rules, 0, maxWaitMs);
      if (answer) return this.booked(own, rules, now, answer);
    }
    // Unvouched bookings are made one at a time per key, each seeing the one before.
    return this.serially(key, async () => {
      const at = Math.max(now, this.lastOf(own));
      if (this.breaker.up) {
        const earliest = this.localSlot(own, rules, at, this.unsure(own, rules, at));
        if (earliest - now > maxWaitMs) return { ok: false, retryAfterMs: earliest - now };
        const answer = await this.book(key, rules, earliest - now, maxWaitMs);
        if (answer) return this.booked(own, rules, now, answer);
      }
      // Redis went away during this call: within the grace period nothing is booked without it.
      if (this.inGrace()) throw new SharedStateUnavailableError('The vendor budget');
      this.onFallback();
      const slot = this.localSlot(own, rules, at, rules.map(() => true));
      if (slot - now > maxWaitMs) return { ok: false, retryAfterMs: slot - now };
      this.record(own, { at: slot, unvouched: rules.map(() => true) });
      own.lastLocal = Math.max(own.lastLocal, slot);
      return { ok: true, at: slot };
    });
  }

  /** Redis is marked down, but not for longer than the grace period. */
  private inGrace(): boolean {
    return !this.breaker.up && Date.now() - this.breaker.downSince < this.graceMs;
  }

  /** Books in Redis; undefined when Redis could not be asked or did not answer. */
  private async book(key: string, rules: RateRule[], notBeforeMs: number, maxWaitMs: number): Promise<[number, number] | undefined> {
    // One hash tag for all of a budget's keys: on a Cluster the script runs on the node holding them.
    const keys = [...rules.map((_, i) => `r:{${key}}:${i}`), `r:{${key}}:last`];
    const args = [keys.length, ...keys, Math.floor(maxWaitMs), Math.ceil(notBeforeMs), ...rules.flatMap((r) => [r.limit, Math.ceil(r.windowMs)])];
    try {
      return await this.breaker.run(async () => {
        if (!this.durability.waiting) return this.redis.sbReserve(...args);
        const pipeline = this.redis.pipeline();
        (pipeline as unknown as Client).sbReserve(...args);
        return (await this.durability.exec(pipeline))[0] as [number, number];
      });
    } catch {
      return undefined;
    }
  }

  private booked(own: OwnBookings, rules: RateRule[], now: number, [booked, wait]: [number, number]): Reservation {
    if (!booked) return { ok: false, retryAfterMs: wait };
    const at = now + wait;
    this.record(own, { at, unvouched: this.unsure(own, rules, at) });
    return { ok: true, at };
  }

  /** For each rule, whether Redis' count may lack calls in the window of a slot at `at`. */
  private unsure(own: OwnBookings, rules: RateRule[], at: number): boolean[] {
    return rules.map((r) => at < this.breaker.lostAt + r.windowMs + this.slackMs || at < own.lastLocal + r.windowMs);
  }

  /** The earliest slot from `at` that keeps this replica's bounds for the rules marked unsure. */
  private localSlot(own: OwnBookings, rules: RateRule[], at: number, unsure: boolean[]): number {
    rules.forEach((rule, i) => {
      if (!unsure[i]) return;
      const share = Math.max(1, Math.floor(rule.limit / this.replicas));
      const unvouchedShare = this.replicas > 1 ? Math.max(1, Math.floor(share / (this.replicas - 1))) : share;
      const all = own.bookings.map((b) => b.at);
      const mine = own.bookings.filter((b) => b.unvouched[i]).map((b) => b.at);
      // As in MemoryRateStore: the booking `limit` places back must have left the window.
      if (all.length >= share) at = Math.max(at, all[all.length - share]! + rule.windowMs);
      if (mine.length >= unvouchedShare) at = Math.max(at, mine[mine.length - unvouchedShare]! + rule.windowMs);
    });
    return at;
  }

  private lastOf(own: OwnBookings): number {
    return own.bookings[own.bookings.length - 1]?.at ?? 0;
  }

  private record(own: OwnBookings, booking: Booking): void {
    let i = own.bookings.length;
    while (i > 0 && own.bookings[i - 1]!.at > booking.at) i--;
    own.bookings.splice(i, 0, booking);
  }

  private bookingsOf(key: string, rules: RateRule[], now: number): OwnBookings {
    const longestMs = Math.max(...rules.map((r) => r.windowMs));
    let own = this.own.get(key);
    if (!own) {
      own = { bookings: [], lastLocal: -Infinity, longestMs };
      this.own.set(key, own);
      if (this.own.size > 10_000) {
        for (const [k, o] of this.own) if (o !== own && this.lastOf(o) + o.longestMs < now) this.own.delete(k);
      }
    }
    own.longestMs = longestMs;
    const stale = own.bookings.findIndex((b) => b.at > now - longestMs);
    own.bookings.splice(0, stale < 0 ? own.bookings.length : stale);
    return own;
  }

  private serially<T>(key: string, op: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(op, op);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}
