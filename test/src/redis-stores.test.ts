import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { createRedisStores, type RedisStores } from '../../src/redis.js';
import { LogCollector } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

describe('Redis stores', () => {
  let redis: RedisServer;
  let one: RedisStores;
  let two: RedisStores;
  const logs = new LogCollector();
  beforeAll(async () => {
    redis = await startRedis();
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    one = createRedisStores(redis.url, { logger, replicas: 2 });
    two = createRedisStores(redis.url, { logger, replicas: 2 });
    expect(await one.connected(5000)).toBe(true);
    expect(await two.connected(5000)).toBe(true);
  });
  afterAll(async () => {
    await one.close();
    await two.close();
    await redis.stop();
  });

  test('reservations are atomic across replicas: a burst of 60 from two clients books exactly the budget', async () => {
    const rules = [{ limit: 10, windowMs: 60_000 }];
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? one : two).rates.reserve('burst', rules, now, 0)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refused = results.find((r) => !r.ok);
    expect(refused && !refused.ok && refused.retryAfterMs).toBeGreaterThan(59_000);
  });

  test('sessions: logins are written per slot and vanish with the session', async () => {
    await one.sessions.create({ id: 's1', createdAt: Date.now(), expiresAt: Date.now() + 60_000, logins: [{ vendor: 'PLATFORM', slot: 'PLATFORM', subject: 'a' }] });
    await Promise.all([two.sessions.putLogin('s1', { vendor: 'NEXUDUS', slot: 'NEXUDUS', subject: 'b' }), one.sessions.putLogin('s1', { vendor: 'NUREVA', slot: 'NUREVA:x', subject: 'c' })]);
    expect((await two.sessions.get('s1'))?.logins.map((l) => l.slot).sort()).toEqual(['NEXUDUS', 'NUREVA:x', 'PLATFORM']);
    await one.sessions.delete('s1');
    expect(await two.sessions.get('s1')).toBeUndefined();
    expect(await two.sessions.putLogin('s1', { vendor: 'NEXUDUS', slot: 'NEXUDUS', subject: 'b' })).toBe(false);
  });

  test('while Redis is away each replica keeps to its share, counting its own recent bookings', async () => {
    const rules = [{ limit: 10, windowMs: 60_000 }];
    const now = Date.now();
    for (let i = 0; i < 6; i++) expect((await one.rates.reserve('fleet', rules, now, 0)).ok).toBe(true);
    for (let i = 0; i < 4; i++) expect((await two.rates.reserve('fleet', rules, now, 0)).ok).toBe(true);
    await redis.stop();
    const more = async (s: RedisStores) => {
      let n = 0;
      while ((await s.rates.reserve('fleet', rules, now, 0)).ok) n++;
      return n;
    };
    const [a, b] = [await more(one), await more(two)];
    // Shares of 5: replica one had used 6 (none left), replica two 4 (one left).
    expect([a, b]).toEqual([0, 1]);
    expect(10 + a + b).toBeLessThanOrEqual(10 + 5);
    expect(await one.ping()).toBe(false);
    await expect(one.sessions.get('s2')).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(logs.text).toContain("rate limits fall back to this replica's share");
    await redis.start();
    expect(await one.connected(15_000)).toBe(true);
  }, 30_000);
});
