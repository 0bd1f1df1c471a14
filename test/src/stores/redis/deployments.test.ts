import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../../../src/config/load.js';
import { createLogger, SecretRegistry } from '../../../../src/logger.js';
import { createRedisStores, type RedisStores } from '../../../../src/stores/redis/stores.js';
import type { PlatformSimulator } from '../../../../simulators/platform/simulator.js';
import { platformEnv, startPlatform } from '../../../../simulators/platform/demo.js';
import { gql, LogCollector, TEST_SECRET } from '../../../helpers/gateway.js';
import { ready, spawnGateway, until, type GatewayProcess } from '../../../helpers/process.js';
import { startCluster, startSentinelSet, type RedisCluster, type SentinelSet } from '../../../helpers/redis.js';

/**
 * Redis as operators run it: a 3-primary Cluster (every store operation, two gateway replicas on
 * it) and a primary with a replica behind three Sentinels (the primary killed under load).
 */

const LOGIN = 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token session { id } } }';
const LOGIN_ENDPOINT = 'POST /v1/client/login';


async function gateways(env: Record<string, string>, platform: PlatformSimulator): Promise<[GatewayProcess, GatewayProcess]> {
  const all = { ...platformEnv(platform), PLATFORM_RATE_LIMIT: '20', REPLICAS: '2', SESSION_SECRET: TEST_SECRET, DEMO: 'false', UPSTREAM_TIMEOUT_MS: '3000', ...env };
  return Promise.all([spawnGateway(all), spawnGateway(all)]);
}

async function stopAll(...procs: Array<GatewayProcess | undefined>): Promise<void> {
  for (const p of procs) p?.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p?.exit));
}

/** Which primary holds each of the gateway's keys (by pattern), from plain clients, one per primary. */
async function placement(clients: Redis[], pattern: string): Promise<number[]> {
  return Promise.all(clients.map(async (c) => (await c.keys(pattern)).length));
}

describe('a Redis Cluster of three primaries', () => {
  let cluster: RedisCluster;
  let one: RedisStores;
  let two: RedisStores;
  const logs = new LogCollector();

  beforeAll(async () => {
    cluster = await startCluster(3);
    const config = loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_WAIT_REPLICAS: '0' }).redis!;
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    one = createRedisStores(config, { logger, replicas: 2, maxSessionsPerClient: 2 });
    two = createRedisStores(config, { logger, replicas: 2, maxSessionsPerClient: 2 });
    expect(await one.connected(10_000)).toBe(true);
    expect(await two.connected(10_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await cluster?.stop();
  });

  test('every store operation works, on keys spread over every primary (no CROSSSLOT)', async () => {
    const now = Date.now();
    const expiresAt = now + 60_000;
    // Sessions: created on one replica, read and changed on the other, capped per owner, deleted.
    const ids = Array.from({ length: 12 }, (_, i) => `session-${i}`);
    for (const id of ids) await one.sessions.create({ id, createdAt: now, expiresAt, logins: [{ slot: 'platform', vendor: 'PLATFORM', subject: 'ada', expiresAt } as never] });
    expect((await two.sessions.get('session-3'))?.logins).toHaveLength(1);
    expect(await two.sessions.putLogin('session-3', { slot: 'nuveq', vendor: 'NUVEQ', subject: 'x', expiresAt } as never)).toBe(true);
    expect(await two.sessions.putLogin('no-such-session', { slot: 'nuveq', vendor: 'NUVEQ', subject: 'x', expiresAt } as never)).toBe(false);
    expect((await one.sessions.get('session-3'))?.logins.map((l) => l.slot).sort()).toEqual(['nuveq', 'platform']);
    await one.sessions.removeLogin('session-3', 'nuveq');
    expect((await two.sessions.get('session-3'))?.logins.map((l) => l.slot)).toEqual(['platform']);
    await two.sessions.delete('session-3');
    expect(await one.sessions.get('session-3')).toBeUndefined();
    for (const [i, id] of ['owned-1', 'owned-2', 'owned-3'].entries()) await one.sessions.create({ id, owner: 'client-9', createdAt: now + i, expiresAt, logins: [] });
    // The owner's third session ended its first (SESSIONS_MAX_PER_CLIENT=2), across nodes.
    expect(await two.sessions.get('owned-1')).toBeUndefined();
    expect(await two.sessions.get('owned-3')).toBeDefined();

    // Vendor tokens (the cache's second level).
    for (let i = 0; i < 12; i++) await one.tokens.set(`key-${i}`, `sealed-${i}`, 60_000);
    expect(await two.tokens.get('key-7')).toBe('sealed-7');
    await two.tokens.delete('key-7');
    expect(await one.tokens.get('key-7')).toBeUndefined();

    // Budgets: many endpoints, each booked atomically across both replicas to exactly its limit.
    const rules = [
      { limit: 5, windowMs: 60_000 },
      { limit: 50, windowMs: 3_600_000 },
    ];
    for (let e = 0; e < 9; e++) {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).rates.reserve(`PLATFORM:endpoint-${e}`, rules, now, 0)));
      expect(results.filter((r) => r.ok)).toHaveLength(5);
    }

    // Failed logins, counted by both.
    for (let i = 0; i < 3; i++) await one.failures.add('login:ada', now + i, 60_000);
    expect(await two.failures.recent('login:ada', now + 10, 60_000)).toHaveLength(3);
    await two.failures.clear('login:ada');
    expect(await one.failures.recent('login:ada', now + 10, 60_000)).toHaveLength(0);
    expect(await one.ping()).toBe(true);

    // Every kind of key landed on more than one primary: the keys really are spread.
    const clients = cluster.clients();
    try {
      for (const pattern of ['sb:s:*', 'sb:t:*', 'sb:r:*']) expect((await placement(clients, pattern)).filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const c of clients) c.disconnect();
    }
    expect(logs.text).not.toMatch(/CROSSSLOT/);
  }, 30_000);
});

describe('two gateway replicas on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let platform: PlatformSimulator;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    [cluster, platform] = await Promise.all([startCluster(3), startPlatform()]);
    // No replicas in this Cluster: nothing to WAIT for.
    [a, b] = await gateways({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_WAIT_REPLICAS: '0' }, platform);
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
  }, 90_000);
  afterAll(async () => {
    await stopAll(a, b);
    await cluster?.stop();
    await platform?.stop();
  });

  test('a session made on one works on the other; logout on one is refused on the other at once', async () => {
    const made = await gql(a.url, LOGIN);
    const token = made.data!.loginClient.token as string;
    expect((await gql(b.url, '{ session { id clientAccount { email } } }', undefined, token)).data!.session).toEqual({ id: made.data!.loginClient.session.id, clientAccount: { email: 'ada@example.com' } });
    expect((await gql(b.url, 'mutation { logout }', undefined, token)).data).toEqual({ logout: true });
    expect((await gql(a.url, '{ session { id } }', undefined, token)).data).toEqual({ session: null });
  });

  test('the Platform budget is never exceeded across both (counted at the simulator over a sliding minute)', async () => {
    const results = await Promise.all([...Array.from({ length: 25 }, () => gql(a.url, LOGIN)), ...Array.from({ length: 25 }, () => gql(b.url, LOGIN))]);
    const answered = results.filter((r) => r.data?.loginClient).length;
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length;
    expect(answered + limited).toBe(50);
    expect(answered).toBeGreaterThan(0);
    expect(platform.maxInWindow(LOGIN_ENDPOINT)).toBeLessThanOrEqual(20);
    expect(platform.maxInWindow(LOGIN_ENDPOINT)).toBeGreaterThanOrEqual(18);
  }, 30_000);
});

describe('a primary and its replica behind three Sentinels', () => {
  let set: SentinelSet;
  let platform: PlatformSimulator;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    [set, platform] = await Promise.all([startSentinelSet(), startPlatform()]);
    [a, b] = await gateways({ REDIS_SENTINELS: set.sentinels, REDIS_SENTINEL_MASTER: set.name }, platform);
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
  }, 90_000);
  afterAll(async () => {
    await stopAll(a, b);
    await set?.stop();
    await platform?.stop();
  });

  test('the primary killed under load: the replica is promoted, both gateways ready within 30 s of it, older sessions kept, the budget held', async () => {
    const before = await Promise.all([gql(a.url, LOGIN), gql(b.url, LOGIN)]);
    const tokens = before.map((r) => r.data!.loginClient.token as string);
    await new Promise((r) => setTimeout(r, 1_100));

    // Load: logins on both replicas, all the way through the failover.
    let loading = true;
    const load = Promise.all(
      [a, b, a, b].map(async (p) => {
        while (loading) await gql(p.url, LOGIN).catch(() => undefined);
      }),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await set.killPrimary();
    await until(async () => (await set.currentPrimary()) === set.replica, 30_000);
    const promoted = Date.now();
    await until(async () => (await ready(a)) && (await ready(b)), 30_000);
    expect(Date.now() - promoted).toBeLessThan(30_000);
    await new Promise((r) => setTimeout(r, 2_000));
    loading = false;
    await load;

    // Sessions written more than a second before the kill (each write waited for the replica).
    for (const p of [a, b]) for (const token of tokens) expect((await gql(p.url, '{ session { clientAccount { email } } }', undefined, token)).data!.session).toEqual({ clientAccount: { email: 'ada@example.com' } });
    // New sessions on the promoted primary work on both.
    const after = await gql(b.url, LOGIN);
    if (after.data?.loginClient) expect((await gql(a.url, '{ session { id } }', undefined, after.data.loginClient.token)).data!.session).not.toBeNull();
    // The vendor never saw more than its budget in any minute.
    expect(platform.count((r) => r.path === '/v1/client/login')).toBeGreaterThanOrEqual(18);
    expect(platform.maxInWindow(LOGIN_ENDPOINT)).toBeLessThanOrEqual(20);
  }, 90_000);
});

describe('stores on a Sentinel-watched primary', () => {
  let set: SentinelSet;
  let one: RedisStores;
  let two: RedisStores;
  const logs = new LogCollector();
  const rules = [{ limit: 10, windowMs: 60_000 }];
  const fill = async (s: RedisStores, key: string, now: number) => {
    let n = 0;
    while ((await s.rates.reserve(key, rules, now, 0)).ok) n++;
    return n;
  };

  beforeAll(async () => {
    set = await startSentinelSet();
    const config = loadConfig({ REDIS_SENTINELS: set.sentinels, REDIS_SENTINEL_MASTER: set.name, REDIS_WAIT_TIMEOUT_MS: '200' }).redis!;
    expect(config.waitReplicas).toBe(1);
    const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    [one, two] = [createRedisStores(config, { logger, replicas: 2 }), createRedisStores(config, { logger, replicas: 2 })];
    expect(await one.connected(10_000)).toBe(true);
    expect(await two.connected(10_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    set?.thawReplica();
    await one?.close();
    await two?.close();
    await set?.stop();
  });

  test('writes wait for the replica: with it frozen a write waits REDIS_WAIT_TIMEOUT_MS, stands, and the operator is told; then writes stop waiting', async () => {
    const now = Date.now();
    // With the replica in sync a write that waits for it does not wait out the timeout. The first
    // may, while the replica catches up; writes then stop waiting for a few seconds, so only a quick
    // write made while writes wait counts.
    let started = 0;
    await until(async () => {
      const waited = one.waitingForReplicas;
      started = performance.now();
      await one.sessions.create({ id: 'quick', createdAt: now, expiresAt: now + 60_000, logins: [] });
      return waited && performance.now() - started < 150;
    }, 20_000);
    set.freezeReplica();
    try {
      expect(one.waitingForReplicas).toBe(true);
      started = performance.now();
      await one.sessions.create({ id: 'slow', createdAt: now, expiresAt: now + 60_000, logins: [] });
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(await two.sessions.get('slow')).toBeDefined();
      expect(logs.text).toContain('writes are not reaching REDIS_WAIT_REPLICAS replicas in time');
      // No replica answering: the next writes do not wait the timeout each.
      started = performance.now();
      await one.sessions.delete('slow');
      expect(one.waitingForReplicas).toBe(false);
      expect(performance.now() - started).toBeLessThan(150);
    } finally {
      set.thawReplica();
    }
  }, 40_000);

  test('after a failover each replica keeps to its share for a window, though the new primary would allow more', async () => {
    const now = Date.now();
    const book = async (s: RedisStores, n: number) => {
      for (let i = 0; i < n; i++) expect((await s.rates.reserve('failover', rules, now, 0)).ok).toBe(true);
    };
    await book(one, 5);
    await book(two, 4);
    await set.killPrimary();
    await until(async () => (await set.currentPrimary()) === set.replica, 30_000);
    await until(async () => (await one.ping()) && (await two.ping()), 30_000);
    // The new primary kept the 9 bookings (each waited for it) and would take 1 more, from either.
    // The primary changed, so its newest writes might have been lost: each replica keeps to its
    // share of 5 (one has used its 5), so only two books the last one.
    expect([await fill(one, 'failover', now), await fill(two, 'failover', now)]).toEqual([0, 1]);
    expect(logs.text).toContain('a Redis primary changed');
  }, 60_000);
});
