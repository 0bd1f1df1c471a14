import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { NuveqSimulator } from '../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../simulators/platform/simulator.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../simulators/platform/demo.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { heapAfterGc, MB, post } from './helpers.js';

/**
 * What a client without a login can make the gateway hold: parsed documents, persisted queries,
 * sessions. Each is bounded in bytes, whatever the client sends.
 */
describe('abuse: memory a request can grow', () => {
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let gw: TestGateway;

  beforeAll(async () => {
    nuveq = await startNuveq();
    platform = await startPlatform();
    gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), ...platformEnv(platform), LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([nuveq.stop(), platform.stop()]);
  });

  test('item 1: 2,000 distinct 1 MB invalid documents leave the heap within 50 MB of where it was', async () => {
    const filler = 'c'.repeat(1_000_000);
    const send = (i: number) => post(gw.url, JSON.stringify({ query: `#${i} ${filler}\n{ devices { id }` }));
    for (let i = 0; i < 20; i++) await send(-i - 1); // warm-up: caches, pools and JIT settle first
    const before = await heapAfterGc();
    for (let i = 0; i < 2000; i += 8) {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, j) => send(i + j)));
      for (const a of answers) expect(a.status).toBe(400);
    }
    const after = await heapAfterGc();
    expect((after - before) / MB).toBeLessThan(50);
  }, 300_000);

  test('item 1 (valid twin): 100 distinct valid documents with 1 MB comments, by POST and as persisted queries, stay within the cache budgets', async () => {
    const filler = 'v'.repeat(1_000_000);
    const before = await heapAfterGc();
    for (let i = 0; i < 100; i++) {
      const query = `#${i} ${filler}\n{ __typename }`;
      expect((await post(gw.url, JSON.stringify({ query }))).status).toBe(200);
      const sha256Hash = createHash('sha256').update(query).digest('hex');
      const apq = await post(gw.url, JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash } } }));
      expect(apq.status).toBe(200);
    }
    const after = await heapAfterGc();
    // Two document caches of 16 MB and persisted queries of 8 MB at most, where the documents
    // themselves weigh 200 MB.
    expect((after - before) / MB).toBeLessThan(50);
  }, 300_000);

  test('item 8: signupClient with 300 KB names is BAD_USER_INPUT before any call; 40 of them keep nothing', async () => {
    const big = 'N'.repeat(300_000);
    platform.resetLog();
    const before = await heapAfterGc();
    for (let i = 0; i < 40; i++) {
      const res = await gw.gql('mutation($i: ClientSignupInput!) { signupClient(input: $i) { token } }', {
        i: { email: `big-${i}@example.com`, firstName: big, lastName: big, password: 'pw-123456' },
      });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'firstName', limit: 200 });
    }
    expect(platform.requests).toBe(0);
    const after = await heapAfterGc();
    expect((after - before) / MB).toBeLessThan(5);
  }, 60_000);

  test('item 11: a 900 KB email to nexudusUserExists is refused before any call', async () => {
    const { startNexudus, nexudusEnv } = await import('../../simulators/nexudus/demo.js');
    const nexudus = await startNexudus();
    const g = await startGateway(nexudusEnv(nexudus));
    try {
      const res = await g.gql('query($e: String!) { nexudusUserExists(email: $e) }', { e: `${'a'.repeat(900_000)}@example.com` });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email', limit: 254 });
      expect(nexudus.requests).toBe(0);
    } finally {
      await g.close();
      await nexudus.stop();
    }
  });
});

describe('abuse: persisted queries with Redis', () => {
  let redis: RedisServer;
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    nuveq = await startNuveq();
    gw = await startGateway({ ...nuveqEnv(nuveq), REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await nuveq.stop();
    await redis.stop();
  });

  test('item 2: 200 persisted-query registrations of 1 MB documents do not grow Redis', async () => {
    const client = redis.client();
    try {
      const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
      const before = await used();
      const filler = 'p'.repeat(1_000_000);
      for (let i = 0; i < 200; i++) {
        const query = `#${i} ${filler}\n{ __typename }`;
        const sha256Hash = createHash('sha256').update(query).digest('hex');
        const res = await post(gw.url, JSON.stringify({ query, extensions: { persistedQuery: { version: 1, sha256Hash } } }));
        expect(res.status).toBe(200);
      }
      expect((await used()) - before).toBeLessThan(2 * MB);
      expect(await client.keys('*apq*')).toEqual([]);
    } finally {
      client.disconnect();
    }
  }, 120_000);
});
