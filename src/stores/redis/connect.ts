import type { Config } from '../../config/types.js';
import type { Logger } from '../../logger.js';
import { createRedisStores, type RedisStores } from './stores.js';

/** The shared stores in Redis; start-up waits a little for it, then serves (not ready) until it answers. */
export async function connectRedis(config: Config, logger: Logger): Promise<RedisStores> {
  const redis = createRedisStores(config.redis!, { logger, replicas: config.replicas, maxSessionsPerClient: config.sessions.maxPerClient, budgetGraceMs: config.redis!.budgetGraceMs });
  if (!(await redis.connected(5_000))) logger.warn('Redis did not answer at start-up: serving, not ready, until it does');
  return redis;
}
