import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NuveqSimulator } from '../../datasources/nuveq/simulator.js';
import type { PlatformSimulator } from '../../datasources/platform/simulator.js';
import { gql, nuveqEnv, platformEnv, startNuveq, startPlatform, TEST_SECRET } from '../helpers/gateway.js';
import { spawnGateway, type GatewayProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const LOGIN = 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token session { id } } }';

async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms`);
}

const ready = async (p: GatewayProcess) => (await fetch(`${p.url}/ready`)).status === 200;

describe('two replicas on one Redis', () => {
  let redis: RedisServer;
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    redis = await startRedis();
    nuveq = await startNuveq();
    platform = await startPlatform();
    const env = {
      ...nuveqEnv(nuveq),
      ...platformEnv(platform),
      PLATFORM_RATE_LIMIT: '20',
      REDIS_URL: redis.url,
      REPLICAS: '2',
      SESSION_SECRET: TEST_SECRET,
      DEMO: 'false',
      UPSTREAM_TIMEOUT_MS: '3000',
    };
    [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
  }, 60_000);
  afterAll(async () => {
    for (const p of [a, b]) p?.child.kill('SIGTERM');
    await Promise.all([a?.exit, b?.exit]);
    await redis?.stop();
    await nuveq?.stop();
    await platform?.stop();
  });

  test('a session created on A works on B', async () => {
    const login = await gql(a.url, LOGIN);
    const token = login.data!.loginClient.token as string;
    const onB = await gql(b.url, '{ session { id clientAccount { email } } }', undefined, token);
    expect(onB.data!.session).toEqual({ id: login.data!.loginClient.session.id, clientAccount: { email: 'ada@example.com' } });
    expect((await gql(b.url, '{ nuveqUser(userId: "1001") { userId } }', undefined, token)).data).toEqual({ nuveqUser: { userId: '1001' } });
  });

  test('logout on A is refused on B at once', async () => {
    const token = (await gql(a.url, LOGIN)).data!.loginClient.token as string;
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data!.session).not.toBeNull();
    expect((await gql(a.url, 'mutation { logout }', undefined, token)).data).toEqual({ logout: true });
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data).toEqual({ session: null });
    expect((await gql(b.url, '{ nuveqUser(userId: "1001") { userId } }', undefined, token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a vendor token fetched by A is reused by B', async () => {
    await gql(a.url, LOGIN);
    expect(platform.serviceLogins).toBe(1);
    const onB = await gql(b.url, LOGIN);
    expect(onB.errors).toBeUndefined();
    expect(platform.serviceLogins).toBe(1);
  });

  test('Redis stopped mid-run: /ready 503 within 5 s, no request hangs, and service resumes when it returns', async () => {
    const token = (await gql(a.url, LOGIN)).data!.loginClient.token as string;
    await redis.stop();
    const notReadyAfter = await until(async () => !(await ready(a)) && !(await ready(b)), 5_000);
    expect(notReadyAfter).toBeLessThan(5_000);
    // Sessions fail closed, at once; what needs no session still answers.
    const started = Date.now();
    for (const p of [a, b]) {
      const res = await gql(p.url, '{ session { id } nuveqUser(userId: "1001") { userId } }', undefined, token);
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    }
    const login = await gql(a.url, LOGIN);
    expect(['UPSTREAM_UNAVAILABLE', 'RATE_LIMITED']).toContain(login.errors?.[0]?.extensions?.code);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await gql(a.url, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    await redis.start();
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
    // The restarted Redis kept nothing (no persistence): the old session is gone, new ones work.
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data).toEqual({ session: null });
    const again = await gql(a.url, LOGIN);
    expect(again.errors).toBeUndefined();
    const onB = await gql(b.url, '{ session { id } }', undefined, again.data!.loginClient.token);
    expect(onB.data!.session.id).toBe(again.data!.loginClient.session.id);
  }, 40_000);

  test('two replicas together stay within one Platform budget', async () => {
    // 20 per minute for the whole fleet (Redis restarted empty above; one login since). 25 calls
    // to each replica at once.
    platform.resetLog();
    const before = 1;
    const results = await Promise.all([...Array.from({ length: 25 }, () => gql(a.url, LOGIN)), ...Array.from({ length: 25 }, () => gql(b.url, LOGIN))]);
    const answered = results.filter((r) => r.data?.loginClient).length;
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED' && Number(r.errors[0]!.extensions!.retryAfter) > 0).length;
    expect(answered + limited).toBe(50);
    expect(platform.count((r) => r.path === '/v1/client/login')).toBe(answered);
    expect(before + answered).toBeLessThanOrEqual(20);
    expect(platform.maxInWindow('POST /v1/client/login')).toBeLessThanOrEqual(20);
    expect(answered).toBeGreaterThan(0);
  });

});
