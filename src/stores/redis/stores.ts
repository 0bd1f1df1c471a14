import type { Redis } from 'ioredis';
import type { RedisConfig } from '../../config/types.js';
import type { Logger } from '../../logger.js';
import { Breaker } from './breaker.js';
import { openConnection } from './connection.js';
import { Durability } from './durability.js';
import { RedisFailureStore } from './failures.js';
import { ping } from './ping.js';
import { RedisRateStore } from './rates.js';
import { RedisSessionStore } from './sessions.js';
import { RedisTokenStore } from './tokens.js';

/**
 * Shared state for many replicas (REDIS_URL, a Cluster or Sentinels): sessions and their revocation, the second level of
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
  /** Whether writes now wait for REDIS_WAIT_REPLICAS replicas (false while paused after a short WAIT). */
  readonly waitingForReplicas: boolean;
  /** Resolves once Redis is up, or after `ms` whatever the state (start-up does not wait forever). */
  connected(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A single server's URL, as the tests give it, in the configuration's shape. */
function serverConfig(url: string): RedisConfig {
  const u = new URL(url);
  return { mode: 'server', url, endpoint: { host: u.hostname, port: Number(u.port || 6379) }, tls: u.protocol === 'rediss:', waitReplicas: 0, waitTimeoutMs: 100, budgetGraceMs: 10_000 };
}

export interface RedisStoreOptions {
  logger: Logger;
  replicas: number;
  maxSessionsPerClient?: number;
  /** How long budgets wait for Redis before booking locally (REDIS_BUDGET_GRACE_MS). */
  budgetGraceMs?: number;
}

export function createRedisStores(target: RedisConfig | string, options: RedisStoreOptions): RedisStores {
  const { logger } = options;
  const config = typeof target === 'string' ? serverConfig(target) : target;
  const connection = openConnection(config);
  const redis = connection.client;
  const breaker = new Breaker(redis, logger, connection.cluster);
  let warnedFor = -1;
  let shortWarned = 0;
  const durability = new Durability(config.waitReplicas, config.waitTimeoutMs, (acked) => {
    // Once a minute at most: after a failover the new primary has no replica for a while.
    if (Date.now() - shortWarned < 60_000) return;
    shortWarned = Date.now();
    logger.warn({ acked, asked: config.waitReplicas }, 'writes are not reaching REDIS_WAIT_REPLICAS replicas in time: nothing to fail over to, or a replica lags');
  });
  return {
    redis,
    sessions: new RedisSessionStore(redis, breaker, options.maxSessionsPerClient, durability),
    tokens: new RedisTokenStore(redis, breaker),
    rates: new RedisRateStore(redis, breaker, options.replicas, () => {
      if (warnedFor !== breaker.outages) logger.warn({ replicas: options.replicas }, "rate limits fall back to this replica's share of each budget until Redis returns");
      warnedFor = breaker.outages;
    }, options.budgetGraceMs ?? config.budgetGraceMs, durability),
    failures: new RedisFailureStore(redis, breaker),
    ping: () => ping(redis, breaker),
    get waitingForReplicas() {
      return durability.waiting;
    },
    connected: (ms) => breaker.whenUp(ms),
    async close() {
      breaker.close();
      await connection.close();
    },
  };
}
