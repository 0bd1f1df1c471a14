import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { Redis } from 'ioredis';
import { ErrorCode, SwitchboardError } from './errors.js';
import type { Logger } from './logger.js';
import { MemoryFailureStore, type FailureStore } from './login-throttle.js';
import { MemoryRateStore, type RateRule, type RateStore, type Reservation } from './rate-limit.js';
import type { SessionRecord, SessionStore, StoredLogin } from './sessions.js';
import type { TokenStore } from './token-cache.js';

/**
 * Shared state for many replicas (REDIS_URL): sessions and their revocation, the second level of
 * the vendor token cache, rate-limit budgets and failed-login counts, and the APQ cache.
 *
 * While Redis is unreachable every call fails at once (no offline queue) and the client keeps
 * reconnecting, so service resumes by itself when Redis returns. Meanwhile:
 * - sessions fail closed: requests that need one answer UPSTREAM_UNAVAILABLE;
 * - vendor tokens: each replica uses its own in-process cache (the first level);
 * - rate limits: each replica keeps to its share of every budget (budget / REPLICAS) in a local
 *   window that already holds its own recent bookings;
 * - failed logins are counted per replica;
 * - /ready answers 503.
 */

export class StoreUnavailableError extends SwitchboardError {
  constructor() {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, 'The session store is unavailable; try again shortly');
  }
}

const PUT_LOGIN = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`;

/*
 * The reservation of rate-limit.ts (MemoryRateStore) in one atomic script, on Redis' clock so
 * replicas with skewed clocks share one timeline. KEYS: one list per rule (booked slot times,
 * oldest first), then the last booked slot. ARGV: the longest wait allowed, then limit and
 * window of each rule. Answers {1, wait} when booked, {0, wait} when the slot is too far off.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local n = #KEYS - 1
local at = now
local last = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if last > at then at = last end
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local len = redis.call('LLEN', KEYS[i])
  if len >= limit then
    local oldest = tonumber(redis.call('LINDEX', KEYS[i], len - limit))
    if oldest + window > at then at = oldest + window end
  end
end
if at - now > maxWait then return {0, at - now} end
local longest = 0
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('RPUSH', KEYS[i], at)
  redis.call('LTRIM', KEYS[i], -limit, -1)
  redis.call('PEXPIRE', KEYS[i], window + (at - now) + 1000)
  if window > longest then longest = window end
end
redis.call('SET', KEYS[n + 1], at, 'PX', longest + (at - now) + 1000)
return {1, at - now}`;

interface Commands {
  sbPutLogin(key: string, field: string, value: string): Promise<number>;
  sbReserve(...args: Array<string | number>): Promise<[number, number]>;
}
type Client = Redis & Commands;

export class RedisSessionStore implements SessionStore {
  constructor(private readonly redis: Client) {}

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch {
      throw new StoreUnavailableError();
    }
  }

  async create(record: SessionRecord): Promise<void> {
    const key = `s:${record.id}`;
    const fields = [['meta', JSON.stringify({ id: record.id, createdAt: record.createdAt, expiresAt: record.expiresAt })], ...record.logins.map((l) => [`login:${l.slot}`, JSON.stringify(l)])].flat();
    await this.run(() => this.redis.multi().hset(key, ...fields).pexpireat(key, record.expiresAt).exec());
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
    return ping(this.redis);
  }

  async close(): Promise<void> {
    // The connection is closed once, by RedisStores.close().
  }
}

export class RedisTokenStore implements TokenStore {
  constructor(private readonly redis: Client) {}
  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(`t:${key}`)) ?? undefined;
  }
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(`t:${key}`, value, 'PX', Math.max(1, Math.floor(ttlMs)));
  }
  async delete(key: string): Promise<void> {
    await this.redis.del(`t:${key}`);
  }
}

export class RedisRateStore implements RateStore {
  /** This replica's own bookings, kept to fall back on while Redis is away. */
  private readonly local = new MemoryRateStore();

  constructor(
    private readonly redis: Client,
    private readonly replicas: number,
    private readonly onFallback: () => void,
  ) {}

  private share(rules: RateRule[]): RateRule[] {
    return rules.map((r) => ({ limit: Math.max(1, Math.floor(r.limit / this.replicas)), windowMs: r.windowMs }));
  }

  async reserve(key: string, rules: RateRule[], now: number, maxWaitMs: number): Promise<Reservation> {
    let answer: [number, number];
    try {
      const keys = [...rules.map((_, i) => `r:${key}:${i}`), `r:${key}:last`];
      answer = await this.redis.sbReserve(keys.length, ...keys, Math.floor(maxWaitMs), ...rules.flatMap((r) => [r.limit, Math.ceil(r.windowMs)]));
    } catch {
      this.onFallback();
      return this.local.reserve(key, this.share(rules), now, maxWaitMs);
    }
    const [booked, wait] = answer;
    if (!booked) return { ok: false, retryAfterMs: wait };
    this.local.record(key, this.share(rules), now + wait);
    return { ok: true, at: now + wait };
  }
}

export class RedisFailureStore implements FailureStore {
  private readonly local = new MemoryFailureStore();
  constructor(private readonly redis: Client) {}

  async recent(key: string, now: number, windowMs: number): Promise<number[]> {
    try {
      const scores = await this.redis.zrangebyscore(`f:${key}`, now - windowMs + 1, '+inf', 'WITHSCORES');
      return scores.filter((_, i) => i % 2 === 1).map(Number);
    } catch {
      return this.local.recent(key, now, windowMs);
    }
  }

  async add(key: string, now: number, windowMs: number): Promise<void> {
    await this.local.add(key, now, windowMs);
    try {
      await this.redis
        .multi()
        .zadd(`f:${key}`, now, `${now}:${Math.random().toString(36).slice(2)}`)
        .zremrangebyscore(`f:${key}`, '-inf', now - windowMs)
        .pexpire(`f:${key}`, windowMs)
        .exec();
    } catch {
      // Counted locally above; the shared count misses this one while Redis is away.
    }
  }

  async clear(key: string): Promise<void> {
    await this.local.clear(key);
    await this.redis.del(`f:${key}`).catch(() => undefined);
  }
}

/** Apollo's persisted-query cache in Redis; a miss while Redis is away (clients resend the query). */
export class RedisKeyValueCache implements KeyValueCache<string> {
  constructor(private readonly redis: Client) {}
  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(`apq:${key}`).catch(() => null)) ?? undefined;
  }
  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttl = options?.ttl;
    await (ttl ? this.redis.set(`apq:${key}`, value, 'EX', ttl) : this.redis.set(`apq:${key}`, value)).catch(() => undefined);
  }
  async delete(key: string): Promise<boolean | void> {
    await this.redis.del(`apq:${key}`).catch(() => undefined);
  }
}

async function ping(redis: Redis): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  try {
    return (await Promise.race([redis.ping(), new Promise<string>((r) => setTimeout(() => r('timeout'), 1000).unref())])) === 'PONG';
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
  apq: RedisKeyValueCache;
  ping(): Promise<boolean>;
  /** Resolves once connected, or after `ms` whatever the state (start-up does not wait forever). */
  connected(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export function createRedisStores(url: string, options: { logger: Logger; replicas: number }): RedisStores {
  const { logger } = options;
  const redis = new Redis(url, {
    keyPrefix: 'sb:',
    // Fail at once while disconnected instead of queueing: no request waits on a dead Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Reconnect forever, a little slower each time, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  }) as Client;
  redis.defineCommand('sbPutLogin', { numberOfKeys: 1, lua: PUT_LOGIN });
  redis.defineCommand('sbReserve', { lua: RESERVE });
  let down = false;
  let warnedFallback = false;
  redis.on('ready', () => {
    if (down) logger.info('Redis is back: shared sessions, tokens and budgets resume');
    down = false;
    warnedFallback = false;
  });
  redis.on('error', (error: Error & { code?: string }) => {
    if (!down) logger.warn({ errorCode: error.code }, 'Redis is unreachable: sessions fail closed, budgets fall back to this replica\'s share');
    down = true;
  });
  return {
    redis,
    sessions: new RedisSessionStore(redis),
    tokens: new RedisTokenStore(redis),
    rates: new RedisRateStore(redis, options.replicas, () => {
      if (!warnedFallback) logger.warn({ replicas: options.replicas }, 'rate limits fall back to this replica\'s share of each budget until Redis returns');
      warnedFallback = true;
    }),
    failures: new RedisFailureStore(redis),
    apq: new RedisKeyValueCache(redis),
    ping: () => ping(redis),
    connected: (ms) =>
      redis.status === 'ready'
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), ms);
            redis.once('ready', () => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
