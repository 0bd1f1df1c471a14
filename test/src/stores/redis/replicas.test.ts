import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt } from 'jose';
import type { Redis } from 'ioredis';
import type { NuveqSimulator } from '../../../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../../../simulators/platform/simulator.js';
import { expectNoSecrets, gql, TEST_SECRET, type GraphQLResult } from '../../../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../../simulators/platform/demo.js';
import { ready, spawnGateway, until, type GatewayProcess } from '../../../helpers/process.js';
import { startRedis, type RedisServer } from '../../../helpers/redis.js';

const LOGIN = 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token session { id } } }';
const UPSTREAM_TIMEOUT_MS = 3000;


const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.code);

/** What each operation answers while Redis is away (none: it answers as usual). */
const WHILE_DOWN = {
  session: { query: '{ session { id } }', session: true, codes: ['UPSTREAM_UNAVAILABLE'] },
  nuveqUser: { query: '{ nuveqUser(userId: "1001") { userId } }', session: true, codes: ['UPSTREAM_UNAVAILABLE'] },
  // Platform accepts the password, but the session cannot be stored: the login fails closed.
  loginClient: { query: LOGIN, session: false, codes: ['UPSTREAM_UNAVAILABLE'] },
  typename: { query: '{ __typename }', session: false, codes: [] },
} as const;
type Operation = keyof typeof WHILE_DOWN;

interface Answer {
  op: Operation;
  replica: string;
  ms: number;
  codes: unknown[];
}

async function send(p: GatewayProcess, op: Operation, token: string): Promise<Answer> {
  const started = Date.now();
  const res = await gql(p.url, WHILE_DOWN[op].query, undefined, WHILE_DOWN[op].session ? token : undefined);
  return { op, replica: p.url, ms: Date.now() - started, codes: codes(res) };
}

/** Every key Redis holds, with its value as text whatever its type. */
async function dump(client: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 100);
    cursor = next;
    for (const key of keys) {
      const type = await client.type(key);
      const value =
        type === 'string' ? await client.get(key)
        : type === 'hash' ? JSON.stringify(await client.hgetall(key))
        : type === 'list' ? JSON.stringify(await client.lrange(key, 0, -1))
        : type === 'zset' ? JSON.stringify(await client.zrange(key, 0, -1, 'WITHSCORES'))
        : type === 'set' ? JSON.stringify(await client.smembers(key))
        : `<${type}>`;
      out.set(key, value ?? '');
    }
  } while (cursor !== '0');
  return out;
}

/** A real Redis, the Nuveq and Platform simulators, and two gateway processes sharing them. */
interface Pair {
  redis: RedisServer;
  nuveq: NuveqSimulator;
  platform: PlatformSimulator;
  a: GatewayProcess;
  b: GatewayProcess;
  /** Stops both gateways, then Redis (thawed first, in case a test froze it) and the simulators. */
  stop(): Promise<void>;
}

async function startPair(): Promise<Pair> {
  const redis = await startRedis();
  const nuveq = await startNuveq();
  const platform = await startPlatform();
  const env = {
    ...nuveqEnv(nuveq),
    ...platformEnv(platform),
    PLATFORM_RATE_LIMIT: '20',
    REDIS_URL: redis.url,
    REPLICAS: '2',
    SESSION_SECRET: TEST_SECRET,
    DEMO: 'false',
    UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
  };
  const [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
  const stop = async () => {
    redis.thaw();
    for (const p of [a, b]) p.child.kill('SIGTERM');
    await Promise.all([a.exit, b.exit]);
    await redis.stop();
    await nuveq.stop();
    await platform.stop();
  };
  return { redis, nuveq, platform, a, b, stop };
}

/** Starts a pair for the enclosing describe, hands it over, and stops it after the last test. */
function usePair(take: (pair: Pair) => void): void {
  let pair: Pair | undefined;
  beforeAll(async () => {
    pair = await startPair();
    take(pair);
  }, 60_000);
  afterAll(async () => {
    await pair?.stop();
  });
}

describe('two replicas on one Redis', () => {
  let redis: RedisServer;
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let a: GatewayProcess;
  let b: GatewayProcess;
  const sessionTokens: string[] = [];
  const login = async (p: GatewayProcess) => {
    const res = await gql(p.url, LOGIN);
    if (res.data?.loginClient) sessionTokens.push(res.data.loginClient.token as string);
    return res;
  };

  usePair((pair) => ({ redis, nuveq, platform, a, b } = pair));

  test('a session created on A works on B', async () => {
    const res = await login(a);
    const token = res.data!.loginClient.token as string;
    const onB = await gql(b.url, '{ session { id clientAccount { email } } }', undefined, token);
    expect(onB.data!.session).toEqual({ id: res.data!.loginClient.session.id, clientAccount: { email: 'ada@example.com' } });
    expect((await gql(b.url, '{ nuveqUser(userId: "1001") { userId } }', undefined, token)).data).toEqual({ nuveqUser: { userId: '1001' } });
  });

  test('logout on A is refused on B at once', async () => {
    const token = (await login(a)).data!.loginClient.token as string;
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data!.session).not.toBeNull();
    expect((await gql(a.url, 'mutation { logout }', undefined, token)).data).toEqual({ logout: true });
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data).toEqual({ session: null });
    expect((await gql(b.url, '{ nuveqUser(userId: "1001") { userId } }', undefined, token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a vendor token fetched by A is reused by B', async () => {
    await login(a);
    expect(platform.serviceLogins).toBe(1);
    const onB = await login(b);
    expect(onB.errors).toBeUndefined();
    expect(platform.serviceLogins).toBe(1);
  });

  test('Redis holds no password, vendor token or session token in plaintext, and token entries expire with the tokens', async () => {
    for (const p of [a, b]) expect((await login(p)).errors).toBeUndefined();
    const client = redis.client();
    try {
      const stored = await dump(client);
      expect([...stored.keys()].some((k) => k.startsWith('sb:s:'))).toBe(true);
      const vendorTokens = [
        ...new Set(
          [...platform.log, ...nuveq.log].flatMap((r) => [String(r.headers.authorization ?? '').replace(/^Bearer /, ''), String(r.headers['client-token'] ?? '')]).filter((t) => t.length > 8),
        ),
      ];
      // Every token the simulator issued (service and client), whether or not it travelled as a header here.
      const clientTokens = [...platform.issuedTokens];
      expect(vendorTokens.length).toBeGreaterThan(0);
      expect(clientTokens.length).toBeGreaterThan(0);
      expect(sessionTokens.length).toBeGreaterThanOrEqual(2);
      const secrets = [platform.serviceUser.password, 'demo-ada-1', nuveq.tokenKey, TEST_SECRET, ...vendorTokens, ...clientTokens, ...sessionTokens];
      // A session token's signature alone would let nobody in, but its payload must not be there either.
      const sessionParts = sessionTokens.flatMap((t) => t.split('.').slice(1));
      expectNoSecrets([...stored].map(([k, v]) => `${k} = ${v}`).join('\n'), [...secrets, ...sessionParts]);

      const tokenKeys = [...stored.keys()].filter((k) => k.startsWith('sb:t:'));
      expect(tokenKeys).toHaveLength(1);
      const apiToken = vendorTokens.find((t) => t.split('.').length === 3 && decodeJwt(t).exp !== undefined)!;
      const remaining = decodeJwt(apiToken).exp! * 1000 - Date.now();
      const ttl = await client.pttl(tokenKeys[0]!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(remaining);
    } finally {
      client.disconnect();
    }
  });

  test('Redis frozen mid-run (SIGSTOP): every answer within UPSTREAM_TIMEOUT_MS, /ready 503 within 5 s, service resumes on SIGCONT', async () => {
    const token = (await login(b)).data!.loginClient.token as string;
    const ops: Operation[] = ['session', 'nuveqUser', 'loginClient', 'typename'];
    redis.freeze();
    const frozenAt = Date.now();
    let first: Answer[];
    let second: Answer[];
    let notReadyAfter: number;
    try {
      // The first calls find out that Redis no longer answers; none may wait for it call after call.
      [first] = await Promise.all([Promise.all([a, b].flatMap((p) => ops.map((op) => send(p, op, token)))), until(async () => !(await ready(a)) && !(await ready(b)), 5_000)]);
      notReadyAfter = Date.now() - frozenAt;
      // Once marked down, Redis is not even asked.
      second = await Promise.all([a, b].flatMap((p) => ops.filter((op) => op !== 'loginClient').map((op) => send(p, op, token))));
    } finally {
      redis.thaw();
    }
    for (const answer of first) {
      expect({ ...answer, late: answer.ms > UPSTREAM_TIMEOUT_MS + 500 }).toEqual({ ...answer, late: false });
      expect(answer.codes).toEqual(WHILE_DOWN[answer.op].codes);
    }
    expect(notReadyAfter).toBeLessThan(5_000);
    for (const answer of second) {
      expect({ ...answer, late: answer.ms > 500 }).toEqual({ ...answer, late: false });
      expect(answer.codes).toEqual(WHILE_DOWN[answer.op].codes);
    }
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
    // A frozen Redis keeps its data: the session from before works again, without any restart.
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data!.session).not.toBeNull();
    const again = await login(b);
    expect(again.errors).toBeUndefined();
    expect((await gql(a.url, '{ session { id } }', undefined, again.data!.loginClient.token)).data!.session.id).toBe(again.data!.loginClient.session.id);
  }, 40_000);

  test('Redis stopped mid-run: /ready 503 within 5 s, no request hangs, and service resumes when it returns', async () => {
    const token = (await login(a)).data!.loginClient.token as string;
    const stoppedAt = Date.now();
    const stopping = redis.stop();
    // Sent while Redis shuts down: each answers as usual or with its code for "Redis is away".
    const during = await Promise.all([a, b].flatMap((p) => (['session', 'nuveqUser', 'loginClient', 'typename'] as const).map((op) => send(p, op, token))));
    await stopping;
    for (const answer of during) {
      expect(answer.ms).toBeLessThanOrEqual(UPSTREAM_TIMEOUT_MS);
      if (answer.codes.length) expect(answer.codes).toEqual(WHILE_DOWN[answer.op].codes);
    }
    await until(async () => !(await ready(a)) && !(await ready(b)), 5_000);
    const notReadyAfter = Date.now() - stoppedAt;
    expect(notReadyAfter).toBeLessThan(5_000);
    // Sessions fail closed, at once; what needs no session still answers.
    const started = Date.now();
    for (const p of [a, b]) {
      const res = await gql(p.url, '{ session { id } nuveqUser(userId: "1001") { userId } }', undefined, token);
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    }
    const platformCalls = platform.requests;
    const down = await login(a);
    expect(down.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    // A login that could not be kept is refused before Platform is asked: no budget spent.
    expect(platform.requests).toBe(platformCalls);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await gql(a.url, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    await redis.start();
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
    // The restarted Redis kept nothing (no persistence): the old session is gone, new ones work.
    expect((await gql(b.url, '{ session { id } }', undefined, token)).data).toEqual({ session: null });
    const again = await login(a);
    expect(again.errors).toBeUndefined();
    const onB = await gql(b.url, '{ session { id } }', undefined, again.data!.loginClient.token);
    expect(onB.data!.session.id).toBe(again.data!.loginClient.session.id);
  }, 40_000);

  test('two replicas together stay within one Platform budget', async () => {
    // 20 per minute for the whole fleet, over the whole run (every test above took its part,
    // through outages and an empty restart). 25 calls to each replica at once.
    const results = await Promise.all([...Array.from({ length: 25 }, () => login(a)), ...Array.from({ length: 25 }, () => login(b))]);
    const answered = results.filter((r) => r.data?.loginClient).length;
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED' && Number(r.errors[0]!.extensions!.retryAfter) > 0).length;
    expect(answered + limited).toBe(50);
    expect(platform.maxInWindow('POST /v1/client/login')).toBeLessThanOrEqual(20);
    expect(answered).toBeGreaterThan(0);
  });
});

describe('a Redis that restarts empty', () => {
  let redis: RedisServer;
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let a: GatewayProcess;
  let b: GatewayProcess;

  usePair((pair) => ({ redis, nuveq, platform, a, b } = pair));

  test('forgets no budget: the fleet stays within the budget plus one replica\'s share', async () => {
    const burst = () => Promise.all([...Array.from({ length: 25 }, () => gql(a.url, LOGIN)), ...Array.from({ length: 25 }, () => gql(b.url, LOGIN))]);
    const tally = (results: GraphQLResult[]) => {
      const answered = results.filter((r) => r.data?.loginClient).length;
      expect(answered + results.filter((r) => codes(r)[0] === 'RATE_LIMITED').length).toBe(results.length);
      return answered;
    };
    expect(tally(await burst())).toBe(20);
    await redis.stop();
    await redis.start();
    const client = redis.client();
    try {
      expect(await client.keys('sb:r:*')).toEqual([]);
    } finally {
      client.disconnect();
    }
    await until(async () => (await ready(a)) && (await ready(b)), 15_000);
    const again = tally(await burst());
    // 20 per minute, shared by 2 replicas: one replica's share is 10.
    expect(platform.maxInWindow('POST /v1/client/login')).toBeLessThanOrEqual(20 + 10);
    expect(platform.count((r) => r.path === '/v1/client/login')).toBe(20 + again);
  }, 60_000);
});
