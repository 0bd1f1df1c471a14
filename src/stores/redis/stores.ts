import { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { Breaker } from './breaker.js';
import { defineCommands } from './client.js';
import { RedisFailureStore } from './failures.js';
import { ping } from './ping.js';
import { RedisRateStore } from './rates.js';
import { RedisSessionStore } from './sessions.js';
import { RedisTokenStore } from './tokens.js';

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
  const connection = new Redis(url, {
    keyPrefix: 'sb:',
    // Fail at once while disconnected instead of queueing: no request waits on a dead Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // One slow answer marks Redis down (Breaker), so a request waits this long at most once.
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Reconnect forever, a little slower each time, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  const redis = defineCommands(connection);
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
