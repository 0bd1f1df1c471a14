import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createLogger, SecretRegistry } from '../../../../src/logger.js';
import { createRedisStores, type RedisStores } from '../../../../src/stores/redis/stores.js';
import { LogCollector } from '../../../helpers/gateway.js';
import { startRedis, type RedisServer } from '../../../helpers/redis.js';

/** A Redis of its own and `n` replicas' stores on it, all connected. */
async function fleet(n: number, logs = new LogCollector(), budgetGraceMs = 0) {
  const redis = await startRedis();
  const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
  const stores = Array.from({ length: n }, () => createRedisStores(redis.url, { logger, replicas: n, budgetGraceMs }));
  for (const s of stores) expect(await s.connected(5000)).toBe(true);
  return {
    redis,
    stores,
    async close() {
      await Promise.all(stores.map((s) => s.close()));
      await redis.stop();
    },
  };
}

/** Books on `key` until refused; how many it booked. */
async function fill(s: RedisStores, key: string, rules: Array<{ limit: number; windowMs: number }>, now = Date.now()): Promise<number> {
  let n = 0;
  while ((await s.rates.reserve(key, rules, now, 0)).ok) n++;
  return n;
}

describe('Redis stores', () => {
  let redis: RedisServer;
  let one: RedisStores;
  let two: RedisStores;
  const logs = new LogCollector();
  beforeAll(async () => {
    redis = await startRedis();
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    one = createRedisStores(redis.url, { logger, replicas: 2, budgetGraceMs: 0 });
    two = createRedisStores(redis.url, { logger, replicas: 2, budgetGraceMs: 0 });
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

describe('Redis stores when Redis misbehaves', () => {
  const rules = [{ limit: 10, windowMs: 60_000 }];
  let cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(cleanup.map((c) => c()));
    cleanup = [];
  });
  const start = async (n: number, logs?: LogCollector, budgetGraceMs?: number) => {
    const f = await fleet(n, logs, budgetGraceMs);
    cleanup.push(async () => {
      f.redis.thaw();
      await f.close();
    });
    return f;
  };

  test('a frozen Redis (SIGSTOP) costs one command timeout, then every call fails or falls back at once until it answers again', async () => {
    const logs = new LogCollector();
    const { redis, stores: [one] } = await start(1, logs);
    await one!.sessions.create({ id: 's1', createdAt: Date.now(), expiresAt: Date.now() + 60_000, logins: [] });
    redis.freeze();
    let started = Date.now();
    await expect(one!.sessions.get('s1')).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(Date.now() - started).toBeLessThan(1_500);
    started = Date.now();
    await expect(one!.sessions.get('s1')).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    await expect(one!.sessions.putLogin('s1', { vendor: 'PLATFORM', slot: 'PLATFORM', subject: 'a' })).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    await expect(one!.tokens.get('platform:x')).rejects.toThrow();
    expect(await one!.failures.recent('f', Date.now(), 60_000)).toEqual([]);
    expect((await one!.rates.reserve('frozen', rules, Date.now(), 0)).ok).toBe(true);
    expect(await one!.ping()).toBe(false);
    // Well under one command timeout (1 s): nothing waited on the frozen Redis.
    expect(Date.now() - started).toBeLessThan(500);
    expect(logs.text).toContain('Redis is unreachable');
    redis.thaw();
    expect(await one!.connected(5_000)).toBe(true);
    expect(await one!.ping()).toBe(true);
    // It kept its data, and the client its connection: no restart of anything.
    expect((await one!.sessions.get('s1'))?.id).toBe('s1');
    expect(logs.text).toContain('Redis is back');
  }, 20_000);

  test('after Redis restarts empty, each replica keeps to its share for a window: the fleet adds at most one share', async () => {
    const { redis, stores } = await start(2);
    const [one, two] = stores as [RedisStores, RedisStores];
    const now = Date.now();
    for (let i = 0; i < 8; i++) expect((await one.rates.reserve('restart', rules, now, 0)).ok).toBe(true);
    for (let i = 0; i < 2; i++) expect((await two.rates.reserve('restart', rules, now, 0)).ok).toBe(true);
    await redis.stop();
    await redis.start();
    expect(await one.connected(15_000)).toBe(true);
    expect(await two.connected(15_000)).toBe(true);
    const client = redis.client();
    expect(await client.keys('sb:r:*')).toEqual([]);
    client.disconnect();
    // Shares of 5: one has used 8 (none left), two 2 (three left). Redis alone would allow 10 more.
    const [a, b] = [await fill(one, 'restart', rules, now), await fill(two, 'restart', rules, now)];
    expect([a, b]).toEqual([0, 3]);
    expect(10 + a + b).toBeLessThanOrEqual(10 + 5);
  }, 30_000);

  test('after booking locally while Redis was away, a replica keeps to its share until those bookings leave the window', async () => {
    const { redis, stores } = await start(2);
    const [one, two] = stores as [RedisStores, RedisStores];
    redis.freeze();
    const now = Date.now();
    const [a, b] = await Promise.all([fill(one, 'blip', rules, now), fill(two, 'blip', rules, now)]);
    expect([a, b]).toEqual([5, 5]);
    redis.thaw();
    expect(await one.connected(5_000)).toBe(true);
    expect(await two.connected(5_000)).toBe(true);
    // Redis kept its data but never saw those 10 bookings; it alone would allow 10 more.
    expect([await fill(one, 'blip', rules, now), await fill(two, 'blip', rules, now)]).toEqual([0, 0]);
  }, 30_000);

  test('with three replicas, what they book without Redis adds at most one share, however the window was used before', async () => {
    const { redis, stores } = await start(3);
    const [one, two, three] = stores as [RedisStores, RedisStores, RedisStores];
    const twelve = [{ limit: 12, windowMs: 60_000 }];
    const now = Date.now();
    // One replica used the whole budget; the others know nothing of it once Redis is gone.
    expect(await fill(one, 'three', twelve, now)).toBe(12);
    await redis.stop();
    const more = [await fill(one, 'three', twelve, now), await fill(two, 'three', twelve, now), await fill(three, 'three', twelve, now)];
    // Shares of 4; without Redis each replica books at most 4 ÷ (3 − 1) = 2.
    expect(more).toEqual([0, 2, 2]);
    expect(12 + more[0]! + more[1]! + more[2]!).toBeLessThanOrEqual(12 + 4);
    // Redis comes back before the end, so these stores are also closed while connected.
    await redis.start();
    for (const s of stores) expect(await s.connected(15_000)).toBe(true);
  }, 30_000);

  test('for REDIS_BUDGET_GRACE_MS after Redis goes away nothing is booked without it (UPSTREAM_UNAVAILABLE); later, shares', async () => {
    const { redis, stores } = await start(2, undefined, 1_500);
    const [one, two] = stores as [RedisStores, RedisStores];
    const now = Date.now();
    expect(await fill(one, 'grace', rules, now)).toBe(10);
    await redis.stop();
    // Marked down by the dropped connection; a failover lasts about this long.
    for (const s of [one, two]) await expect(s.rates.reserve('grace', rules, now, 5_000)).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
    await new Promise((r) => setTimeout(r, 1_600));
    // A longer outage: each keeps to its share (5), counting what it booked (one: 10; two: none).
    expect([await fill(one, 'grace', rules, now), await fill(two, 'grace', rules, now)]).toEqual([0, 5]);
    await redis.start();
    for (const s of stores) expect(await s.connected(15_000)).toBe(true);
  }, 30_000);
});
