import { randomUUID } from 'node:crypto';
import { Redis, ReplyError } from 'ioredis';
import type { Logger } from './logger.js';
import { MemoryFailureStore, type FailureStore } from './login-throttle.js';
import type { RateRule, RateStore, Reservation } from './rate-limit.js';
import { StoreUnavailableError, type SessionRecord, type SessionStore, type StoredLogin } from './sessions.js';
import type { TokenStore } from './token-cache.js';

/**
 * Shared state for many replicas (REDIS_URL): sessions and their revocation, the second level of
 * the vendor token cache, rate-limit budgets and failed-login counts. (Persisted queries stay in
 * each process, bounded: a client whose query a replica lacks sends it again.)
 *
 * Redis is marked down on the first command that times out or finds no connection, and whenever
 * the connection drops; while it is down every call fails at once, without asking Redis, until a
 * background ping answers (see Breaker). Meanwhile:
 * - sessions fail closed: requests that need one answer UPSTREAM_UNAVAILABLE;
 * - vendor tokens: each replica uses its own in-process cache (the first level);
 * - rate limits: each replica books locally within its share (see RedisRateStore);
 * - failed logins are counted per replica;
 * - /ready answers 503.
 */

const PUT_LOGIN = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`;

/*
 * The reservation of rate-limit.ts (MemoryRateStore) in one atomic script, on Redis' clock so
 * replicas with skewed clocks share one timeline. KEYS: one list per rule (booked slot times,
 * oldest first), then the last booked slot. ARGV: the longest wait allowed, the earliest slot the
 * replica accepts (ms from now), then limit and window of each rule. Answers {1, wait} when
 * booked, {0, wait} when the slot is too far off.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local n = #KEYS - 1
local at = now + tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if last > at then at = last end
for i = 1, n do
  local limit = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  local len = redis.call('LLEN', KEYS[i])
  if len >= limit then
    local oldest = tonumber(redis.call('LINDEX', KEYS[i], len - limit))
    if oldest + window > at then at = oldest + window end
  end
end
if at - now > maxWait then return {0, at - now} end
local longest = 0
for i = 1, n do
  local limit = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  redis.call('RPUSH', KEYS[i], at)
  redis.call('LTRIM', KEYS[i], -limit, -1)
  redis.call('PEXPIRE', KEYS[i], window + (at - now) + 1000)
  if window > longest then longest = window end
end
redis.call('SET', KEYS[n + 1], at, 'PX', longest + (at - now) + 1000)
return {1, at - now}`;

/*
 * Tells a replica whether Redis lost its data since the replica last looked. KEYS: `born` (when
 * this Redis' data began, and a random id: it disappears with the data), `lost` (when the data
 * of the latest loss some replica noticed began). ARGV: the `born` this replica saw last ('' the
 * first time), a new random id. Answers {born, ms since `lost`, or -1}.
 */
const GENERATION = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local born = redis.call('GET', KEYS[1])
if not born then
  born = string.format('%.0f', now) .. ':' .. ARGV[2]
  redis.call('SET', KEYS[1], born)
end
if ARGV[1] ~= '' and ARGV[1] ~= born then
  local began = tonumber(string.match(born, '^%d+'))
  if began > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], string.format('%.0f', began)) end
end
local lost = redis.call('GET', KEYS[2])
if not lost then return {born, -1} end
return {born, now - tonumber(lost)}`;

interface Commands {
  sbPutLogin(key: string, field: string, value: string): Promise<number>;
  sbReserve(...args: Array<string | number>): Promise<[number, number]>;
  sbGeneration(born: string, lost: string, seen: string, id: string): Promise<[string, number]>;
}
type Client = Redis & Commands;

/** How often a Redis marked down is asked whether it is back. */
const PROBE_MS = 500;

/** A call refused without asking Redis, because Redis is marked down. */
class RedisDownError extends Error {
  constructor() {
    super('Redis is marked down');
  }
}

/**
 * Marks Redis down on the first command that times out or finds no connection, and whenever the
 * connection drops; while it is down every call fails at once. A frozen server (a paused VM,
 * SIGSTOP) keeps its socket open, so the client still says "ready" and would let each command
 * wait its full timeout: a login makes several calls in a row and would wait for each. A
 * background ping marks Redis up again, once it also learnt whether Redis lost its data.
 */
class Breaker {
  up = false;
  /** Times Redis was marked down. */
  outages = 0;
  /** When the data Redis holds began, if it lost earlier data (this process' clock); else 0. */
  lostAt = 0;
  private everUp = false;
  private born = '';
  private timer?: NodeJS.Timeout;
  private probing = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly redis: Client,
    private readonly logger: Logger,
  ) {
    redis.on('ready', () => void this.probe());
    redis.on('error', (error: Error & { code?: string }) => this.trip(error.code));
    redis.on('close', () => this.trip('CLOSED'));
    this.timer = setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  async run<T>(op: () => Promise<T>): Promise<T> {
    if (!this.up) throw new RedisDownError();
    try {
      return await op();
    } catch (error) {
      // A reply error is Redis answering; anything else means it did not.
      if (!(error instanceof ReplyError)) this.trip((error as { code?: string }).code ?? (/timed out/i.test(String((error as Error).message)) ? 'TIMEOUT' : 'NO_CONNECTION'));
      throw error;
    }
  }

  /** Resolves true once Redis is up, or false after `ms`. */
  whenUp(ms: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(false);
      }, ms);
      this.waiters.add(done);
    });
  }

  close(): void {
    this.closed = true;
    this.up = false;
    clearInterval(this.timer);
  }

  private trip(errorCode: string | undefined): void {
    if (this.closed) return;
    if (this.up) {
      this.logger.warn({ errorCode }, "Redis is unreachable: sessions fail closed, budgets fall back to this replica's share");
      this.outages++;
    }
    this.up = false;
    this.timer ??= setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  private async probe(): Promise<void> {
    if (this.up || this.probing || this.closed || this.redis.status !== 'ready') return;
    this.probing = true;
    try {
      const [born, lostAge] = await this.redis.sbGeneration('born', 'lost', this.born, randomUUID());
      this.born = born;
      if (lostAge >= 0) this.lostAt = Math.max(this.lostAt, Date.now() - lostAge);
      if (this.closed) return;
      if (this.everUp) this.logger.info('Redis is back: shared sessions, tokens and budgets resume');
      this.up = this.everUp = true;
      clearInterval(this.timer);
      this.timer = undefined;
      for (const done of this.waiters) done();
      this.waiters.clear();
    } catch {
      // Still away, or frozen (the call timed out): the next tick asks again.
    } finally {
      this.probing = false;
    }
  }
}

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
    /** Live sessions one owner keeps (SESSIONS_MAX_PER_CLIENT); its next one ends its oldest. */
    private readonly maxPerOwner = 1000,
  ) {}

  available(): boolean {
    return this.breaker.up;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(op);
    } catch {
      throw new StoreUnavailableError();
    }
  }

  async create(record: SessionRecord): Promise<void> {
    const key = `s:${record.id}`;
    const meta = { id: record.id, createdAt: record.createdAt, expiresAt: record.expiresAt, ...(record.owner ? { owner: record.owner } : {}) };
    const fields = [['meta', JSON.stringify(meta)], ...record.logins.map((l) => [`login:${l.slot}`, JSON.stringify(l)])].flat();
    await this.run(() => this.redis.multi().hset(key, ...fields).pexpireat(key, record.expiresAt).exec());
    if (record.owner) await this.run(() => this.keepOwnerWithin(record.owner!, record));
  }

  /**
   * Each owner's sessions in a sorted set by creation time: past the cap, its oldest end. (Not one
   * script: a session and its owner's set live under different keys, which a Cluster may place on
   * different nodes.)
   */
  private async keepOwnerWithin(owner: string, record: SessionRecord): Promise<void> {
    const key = `o:${owner}`;
    const [, [, count] = []] = (await this.redis
      .multi()
      .zadd(key, record.createdAt, record.id)
      .zcard(key)
      .pexpireat(key, record.expiresAt)
      .exec()) as Array<[Error | null, unknown]>;
    const excess = Number(count) - this.maxPerOwner;
    if (excess <= 0) return;
    const oldest = await this.redis.zpopmin(key, excess);
    const ids = oldest.filter((_, i) => i % 2 === 0);
    if (ids.length) await this.redis.del(...ids.map((id) => `s:${id}`));
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const hash = await this.run(() => this.redis.hgetall(`s:${id}`));
    if (!hash.meta) return undefined;
    const meta = JSON.parse(hash.meta) as Omit<SessionRecord, 'logins'>;
    const logins = Object.entries(hash)
      .filter(([field]) => field.startsWith('login:'))
      .map(([, value]) => JSON.parse(value) as StoredLogin);
    return { ...meta, logins };
  }

  async putLogin(id: string, login: StoredLogin): Promise<boolean> {
    return (await this.run(() => this.redis.sbPutLogin(`s:${id}`, `login:${login.slot}`, JSON.stringify(login)))) === 1;
  }

  async removeLogin(id: string, slot: string): Promise<void> {
    await this.run(() => this.redis.hdel(`s:${id}`, `login:${slot}`));
  }

  async delete(id: string): Promise<void> {
    await this.run(() => this.redis.del(`s:${id}`));
  }

  async ping(): Promise<boolean> {
    return ping(this.redis, this.breaker);
  }

  async close(): Promise<void> {
    // The connection is closed once, by RedisStores.close().
  }
}

export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
  ) {}
  async get(key: string): Promise<string | undefined> {
    return (await this.breaker.run(() => this.redis.get(`t:${key}`))) ?? undefined;
  }
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.breaker.run(() => this.redis.set(`t:${key}`, value, 'PX', Math.max(1, Math.floor(ttlMs))));
  }
  async delete(key: string): Promise<void> {
    await this.breaker.run(() => this.redis.del(`t:${key}`));
  }
}

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
  ) {}

  async reserve(key: string, rules: RateRule[], now: number, maxWaitMs: number): Promise<Reservation> {
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
      this.onFallback();
      const slot = this.localSlot(own, rules, at, rules.map(() => true));
      if (slot - now > maxWaitMs) return { ok: false, retryAfterMs: slot - now };
      this.record(own, { at: slot, unvouched: rules.map(() => true) });
      own.lastLocal = Math.max(own.lastLocal, slot);
      return { ok: true, at: slot };
    });
  }

  /** Books in Redis; undefined when Redis could not be asked or did not answer. */
  private async book(key: string, rules: RateRule[], notBeforeMs: number, maxWaitMs: number): Promise<[number, number] | undefined> {
    const keys = [...rules.map((_, i) => `r:${key}:${i}`), `r:${key}:last`];
    try {
      return await this.breaker.run(() =>
        this.redis.sbReserve(keys.length, ...keys, Math.floor(maxWaitMs), Math.ceil(notBeforeMs), ...rules.flatMap((r) => [r.limit, Math.ceil(r.windowMs)])),
      );
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

export class RedisFailureStore implements FailureStore {
  private readonly local = new MemoryFailureStore();
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
  ) {}

  async recent(key: string, now: number, windowMs: number): Promise<number[]> {
    try {
      const scores = await this.breaker.run(() => this.redis.zrangebyscore(`f:${key}`, now - windowMs + 1, '+inf', 'WITHSCORES'));
      return scores.filter((_, i) => i % 2 === 1).map(Number);
    } catch {
      return this.local.recent(key, now, windowMs);
    }
  }

  async add(key: string, now: number, windowMs: number): Promise<void> {
    await this.local.add(key, now, windowMs);
    try {
      await this.breaker.run(() =>
        this.redis
          .multi()
          .zadd(`f:${key}`, now, `${now}:${Math.random().toString(36).slice(2)}`)
          .zremrangebyscore(`f:${key}`, '-inf', now - windowMs)
          .pexpire(`f:${key}`, windowMs)
          .exec(),
      );
    } catch {
      // Counted locally above; the shared count misses this one while Redis is away.
    }
  }

  async clear(key: string): Promise<void> {
    await this.local.clear(key);
    await this.breaker.run(() => this.redis.del(`f:${key}`)).catch(() => undefined);
  }
}

async function ping(redis: Redis, breaker: Breaker): Promise<boolean> {
  if (!breaker.up) return false;
  try {
    return (await breaker.run(() => redis.ping())) === 'PONG';
  } catch {
    return false;
  }
}

export interface RedisStores {
  redis: Redis;
  sessions: RedisSessionStore;
  tokens: RedisTokenStore;
  rates: RedisRateStore;
  failures: RedisFailureStore;
  ping(): Promise<boolean>;
  /** Resolves once Redis is up, or after `ms` whatever the state (start-up does not wait forever). */
  connected(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export function createRedisStores(url: string, options: { logger: Logger; replicas: number; maxSessionsPerClient?: number }): RedisStores {
  const { logger } = options;
  const redis = new Redis(url, {
    keyPrefix: 'sb:',
    // Fail at once while disconnected instead of queueing: no request waits on a dead Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // One slow answer marks Redis down (Breaker), so a request waits this long at most once.
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Reconnect forever, a little slower each time, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  }) as Client;
  redis.defineCommand('sbPutLogin', { numberOfKeys: 1, lua: PUT_LOGIN });
  redis.defineCommand('sbReserve', { lua: RESERVE });
  redis.defineCommand('sbGeneration', { numberOfKeys: 2, lua: GENERATION });
  const breaker = new Breaker(redis, logger);
  let warnedFor = -1;
  return {
    redis,
    sessions: new RedisSessionStore(redis, breaker, options.maxSessionsPerClient),
    tokens: new RedisTokenStore(redis, breaker),
    rates: new RedisRateStore(redis, breaker, options.replicas, () => {
      if (warnedFor !== breaker.outages) logger.warn({ replicas: options.replicas }, "rate limits fall back to this replica's share of each budget until Redis returns");
      warnedFor = breaker.outages;
    }),
    failures: new RedisFailureStore(redis, breaker),
    ping: () => ping(redis, breaker),
    connected: (ms) => breaker.whenUp(ms),
    async close() {
      breaker.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
