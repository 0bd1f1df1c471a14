import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { loadConfig } from '../../../../src/config/load.js';
import { createLogger, SecretRegistry } from '../../../../src/logger.js';
import { createRedisStores } from '../../../../src/stores/redis/stores.js';
import { LogCollector } from '../../../helpers/gateway.js';
import { startRedis, type RedisServer } from '../../../helpers/redis.js';

/**
 * A Redis user as hardened operators make them (an ACL without INFO and WAIT, as some managed
 * services have too): the gateway still works; what it cannot see it treats the safe way and says so.
 */
describe('Redis with a restricted user', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    const admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'gateway', 'on', '>gateway-pass-1', '~*', '+@all', '-info', '-wait');
    await admin.quit();
  });
  afterAll(async () => {
    await redis.stop();
  });

  test('without INFO it becomes ready, warns once, and keeps budgets to its share for a window; without WAIT writes stand', async () => {
    const url = new URL(redis.url);
    const config = loadConfig({ REDIS_URL: `redis://gateway:gateway-pass-1@${url.host}`, REDIS_WAIT_REPLICAS: '1' }).redis!;
    const logs = new LogCollector();
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    const stores = createRedisStores(config, { logger, replicas: 2, budgetGraceMs: 0 });
    try {
      expect(await stores.connected(5000)).toBe(true);
      expect(logs.entries().filter((l) => /refused INFO/.test(String(l.msg)))).toHaveLength(1);
      // A budget of 10 shared by 2 replicas: this one books its share (5) while the history may be lost.
      const rules = [{ limit: 10, windowMs: 60_000 }];
      let booked = 0;
      while ((await stores.rates.reserve('acl-budget', rules, Date.now(), 0)).ok) booked++;
      expect(booked).toBe(5);
      // WAIT is refused: the session is written all the same, and the operator hears of it.
      await stores.sessions.create({ id: 'acl-1', createdAt: Date.now(), expiresAt: Date.now() + 60_000, logins: [] });
      expect((await stores.sessions.get('acl-1'))?.id).toBe('acl-1');
      expect(logs.entries().some((l) => /REDIS_WAIT_REPLICAS/.test(String(l.msg)))).toBe(true);
      expect(logs.text).not.toContain('gateway-pass-1');
    } finally {
      await stores.close();
    }
  });
});
