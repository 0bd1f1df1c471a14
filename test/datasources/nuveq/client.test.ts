import type { NuveqClient } from '../../../datasources/nuveq/client.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { NuveqSimOptions, NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import { Context } from '../../../src/graphql/context.js';
import { expectNoSecrets, startGateway, TEST_SECRET, type GraphQLResult, type TestGateway, vendorClient } from '../../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';

const USERS = 'query($ids: [ID!]!) { nuveqUsers(userIds: $ids) { id userId name } }';
const USER = 'query($id: ID!) { nuveqUser(userId: $id) { userId name } }';
const WRONG_KEY = 'a-wrong-key-value-1234';
const idRange = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));

/**
 * Every scenario runs against each reading of what Nuveq does not document (its error envelope and
 * status, its throttle's Retry-After): the plainest first, then one assumption changed at a time.
 */
const VARIANTS: Array<[string, NuveqSimOptions]> = [
  ['as the vendor facts assume', {}],
  ['errors with HTTP 400', { errorStatus: 400 }],
  ['errors as {"message"}', { errorShape: 'message' }],
  ['errors as a bare JSON string', { errorShape: 'string' }],
  ['a throttle that sends Retry-After', { throttleRetryAfter: true }],
];

describe.each(VARIANTS)('Nuveq slice (%s)', (_variant, variant) => {
  let sim: NuveqSimulator;
  let platform: PlatformSimulator;
  let gw: TestGateway;
  let token: string;
  const gateways: TestGateway[] = [];
  /** Every GraphQL answer of every gateway in this file, scanned for the API key at the end. */
  const bodies: string[] = [];

  async function start(env: Record<string, string>): Promise<TestGateway> {
    const g = await startGateway(env);
    const send = g.gql.bind(g);
    const tracked: TestGateway = {
      ...g,
      gql: async (query, variables, tok) => {
        const res = await send(query, variables, tok);
        bodies.push(JSON.stringify({ data: res.data, errors: res.errors }));
        return res as GraphQLResult<never>;
      },
    };
    gateways.push(tracked);
    return tracked;
  }

  beforeAll(async () => {
    sim = await startNuveq({ latencyMs: 15, ...variant });
    platform = await startPlatform();
    gw = await start({ ...nuveqEnv(sim), ...platformEnv(platform) });
    token = (await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }')).data!.loginClient.token;
  });
  afterEach(() => {
    sim.clearFaults();
    sim.latencyMs = 15;
    sim.errorStatus = variant.errorStatus ?? 200;
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await sim.stop();
    await platform.stop();
    // The API key appears in no log line of any gateway in this file.
    expectNoSecrets(gateways.map((g) => g.logs.text).join('\n'), [sim.tokenKey, TEST_SECRET, token]);
    // Nor in any answer a caller got.
    expect(bodies.length).toBeGreaterThan(0);
    expectNoSecrets(bodies.join('\n'), [sim.tokenKey, WRONG_KEY]);
  });

  test('100 ids of which 40 repeat: exactly 60 vendor calls, never more than 8 in flight, answers in order, null where unknown', async () => {
    const distinct = Array.from({ length: 60 }, (_, i) => String(1001 + i));
    const ids = [...distinct, ...distinct.slice(0, 40)];
    // Shuffle deterministically so repeats are interleaved.
    const shuffled = ids.map((id, i) => ({ id, k: (i * 37) % 100 })).sort((a, b) => a.k - b.k).map((x) => x.id);
    sim.resetLog();
    const res = await gw.gql(USERS, { ids: shuffled }, token);
    expect(res.errors).toBeUndefined();
    expect(sim.userDetailCalls()).toBe(60);
    expect(sim.maxInFlight).toBeLessThanOrEqual(8);
    expect(sim.maxInFlight).toBeGreaterThanOrEqual(4);
    const users = res.data!.nuveqUsers as Array<{ userId: string } | null>;
    expect(users).toHaveLength(100);
    shuffled.forEach((id, i) => {
      if (Number(id) % 5 === 0) expect(users[i]).toBeNull();
      else expect(users[i]?.userId).toBe(id);
    });
    const bodies = sim.log.map((r) => r.json as Record<string, unknown>);
    expect(new Set(bodies.map((b) => b.user_id)).size).toBe(60);
  });

  test('the request body is exactly port, api_id, user_id and token_key, with their types', async () => {
    sim.resetLog();
    await gw.gql(USER, { id: '1001' }, token);
    const body = sim.log[0]!.json as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['port', 'api_id', 'user_id', 'token_key']);
    expect(body).toEqual({ port: sim.userDetailPort, api_id: sim.apiId, user_id: 1001, token_key: sim.tokenKey });
    expect(sim.log[0]!.method).toBe('POST');
  });

  test('a non-numeric userId is BAD_USER_INPUT before any call', async () => {
    sim.resetLog();
    for (const id of ['abc', '10 01', '-5', '1e3', '']) {
      const res = await gw.gql(USER, { id }, token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
    }
    const list = await gw.gql(USERS, { ids: ['1001', 'x'] }, token);
    expect(list.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(sim.requests).toBe(0);
  });

  test('without a session: UNAUTHENTICATED with zero vendor calls', async () => {
    sim.resetLog();
    expect((await gw.gql(USER, { id: '1001' })).errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NUVEQ' });
    expect((await gw.gql(USERS, { ids: ['1001', '1002'] })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(sim.requests).toBe(0);
  });

  test('NUVEQ_ALLOW_ANONYMOUS=true lets it through without a session', async () => {
    const anon = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true' }));
    expect((await anon.gql(USER, { id: '1001' })).data?.nuveqUser?.userId).toBe('1001');
  });

  test('mapping: renamed fields, refs, empty strings to null, numeric or string ids, dates with an offset', async () => {
    const res = await gw.gql(
      '{ a: nuveqUser(userId: "1004") { ...f } b: nuveqUser(userId: "1003") { ...f } c: nuveqUser(userId: "1002") { ...f } } fragment f on NuveqUser { id vendor userId email name phone photoUrl staffNumber gender lastSeenAt expiresAt department { id name } post { id name } role { id name } accessGroupDescription }',
      undefined,
      token,
    );
    const raw = sim.users.get(1004)!;
    expect(raw.photo).toBe('');
    expect(typeof raw.department_id).toBe('number');
    expect(res.data!.a).toEqual({
      id: 'nuveq:1004', vendor: 'NUVEQ', userId: '1004', email: raw.email, name: raw.name, phone: raw.phone,
      photoUrl: null, staffNumber: 'S-1004', gender: 'F', lastSeenAt: '2024-03-25T08:30:00+00:00', expiresAt: '2025-12-25T23:59:59+00:00',
      department: { id: String(raw.department_id), name: raw.department_name }, post: { id: String(raw.post_id), name: raw.post_name },
      role: { id: String(raw.role_id), name: raw.role_name }, accessGroupDescription: 'Main entrance, floors 1-3',
    });
    expect(sim.users.get(1003)!.staff_number).toBe(1003);
    expect(res.data!.b).toMatchObject({ staffNumber: '1003', photoUrl: 'https://cdn.nuveq.example/photos/1003.jpg' });
    expect(sim.users.get(1002)!.phone).toBe('');
    expect(res.data!.c).toMatchObject({ phone: null });
  });

  test('vendor dates are read in NUVEQ_TIMEZONE, daylight saving included', async () => {
    sim.users.set(7001, { name: 'Zoned', last_seen_at: '2024-07-01 08:30:00', expires_at: '2024-01-15 12:00:00', department_id: '', department_name: '' });
    const berlin = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_TIMEZONE: 'Europe/Berlin' }));
    const res = await berlin.gql('{ nuveqUser(userId: "7001") { lastSeenAt expiresAt department { id } } }');
    expect(res.data!.nuveqUser).toEqual({ lastSeenAt: '2024-07-01T08:30:00+02:00', expiresAt: '2024-01-15T12:00:00+01:00', department: null });
  });

  test.each([200, 400, 404])('the undocumented error envelope with HTTP %i: an unknown user is null, not an error', async (status) => {
    sim.errorStatus = status;
    const res = await gw.gql(USER, { id: '1005' }, token);
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ nuveqUser: null });
  });

  test.each([200, 401, 403])("a rejected token_key (HTTP %i) is the operator's: UPSTREAM_ERROR, a log naming NUVEQ_TOKEN_KEY, never the key", async (status) => {
    const bad = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_TOKEN_KEY: WRONG_KEY }));
    sim.errorStatus = status;
    const res = await bad.gql(USER, { id: '1001' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUVEQ' });
    expect(JSON.stringify(res)).not.toContain('a-wrong-key-value-1234');
    const log = bad.logs.entries().find((e) => e.level === 50 && e.variable === 'NUVEQ_TOKEN_KEY');
    expect(log?.msg).toContain('NUVEQ_TOKEN_KEY');
    expect(bad.logs.text).not.toContain('a-wrong-key-value-1234');
  });

  test("a rejected api_id ('Fail to get Site') is the operator's: UPSTREAM_ERROR, a log naming NUVEQ_API_ID, never the key", async () => {
    const bad = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_API_ID: String(sim.apiId + 1) }));
    sim.resetLog();
    const res = await bad.gql(USER, { id: '1001' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUVEQ' });
    // The right key went out, so it was the account id the simulator refused.
    expect(sim.log[0]!.json).toMatchObject({ api_id: sim.apiId + 1, token_key: sim.tokenKey });
    expect(JSON.stringify(res)).not.toContain(sim.tokenKey);
    const log = bad.logs.entries().find((e) => e.level === 50 && e.variable === 'NUVEQ_API_ID');
    expect(log?.msg).toContain('NUVEQ_API_ID');
    expect(bad.logs.text).not.toContain(sim.tokenKey);
  });

  test.each([
    ['{}', {}],
    ['{"status":"ok"}', { status: 'ok' }],
    ['{"data":null}', { data: null }],
    ['{"data":{}}', { data: {} }],
    ['{"data":[]}', { data: [] }],
    ['{"data":{"foo":1}}', { data: { foo: 1 } }],
  ])('a malformed answer %s with HTTP 200 is UPSTREAM_ERROR, not an unknown or empty user', async (_shape, json) => {
    sim.inject({ times: 1, reply: { status: 200, json } });
    const res = await gw.gql(USER, { id: '1001' }, token);
    expect(res.data).toEqual({ nuveqUser: null });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUVEQ' });
  });

  test('a malformed answer is not kept even by the request that got it: asking again asks Nuveq again', async () => {
    // No GraphQL operation loads one id twice in sequence (the fields of a query share one batch),
    // so this drives one request's datasource directly; its calls still go over HTTP.
    const ctx = new Context(gw.gateway.services, { token, clientAddress: '127.0.0.1' });
    sim.resetLog();
    sim.inject({ times: 1, reply: { status: 200, json: { data: { foo: 1 } } } });
    await expect(ctx.vendor('nuveq').user('1001')).rejects.toMatchObject({ extensions: { code: 'UPSTREAM_ERROR', vendor: 'NUVEQ' } });
    expect((await ctx.vendor('nuveq').user('1001'))?.userId).toBe('1001');
    // A good answer is kept: the same loader answered both calls above.
    expect((await ctx.vendor('nuveq').user('1001'))?.userId).toBe('1001');
    expect(sim.requests).toBe(2);
  });

  test('an HTML answer is UPSTREAM_ERROR; the next request asks again', async () => {
    sim.inject({ times: 1, reply: { status: 200, text: '<html><body>Service maintenance</body></html>', headers: { 'content-type': 'text/html' } } });
    const first = await gw.gql(USER, { id: '1001' }, token);
    expect(first.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUVEQ' });
    expect((await gw.gql(USER, { id: '1001' }, token)).data?.nuveqUser?.userId).toBe('1001');
  });

  test('one failing user is an error at its own index; the others answer', async () => {
    sim.inject({ times: 3, match: (r) => (r.json as { user_id?: number }).user_id === 1002, reply: { status: 200, text: 'garbage' } });
    const res = await gw.gql(USERS, { ids: ['1001', '1002', '1003'] }, token);
    expect(res.data!.nuveqUsers.map((u: { userId: string } | null) => u?.userId ?? null)).toEqual(['1001', null, '1003']);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.path).toEqual(['nuveqUsers', 1]);
  });

  test('a repeated id is asked for once and answered at each of its places, a failure too (fast path and Apollo)', async () => {
    const ids = ['1002', '1001', '1002', '1001', '1003', '01001'];
    // A POST of JSON runs on the fast path (graphql-jit); a GET goes through Apollo Server (graphql-js).
    const viaGet = async (): Promise<GraphQLResult> => {
      const search = new URLSearchParams({ query: USERS, variables: JSON.stringify({ ids }) });
      return (await fetch(`${gw.url}/graphql?${search}`, { headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } })).json() as Promise<GraphQLResult>;
    };
    for (const ask of [() => gw.gql(USERS, { ids }, token), viaGet]) {
      sim.inject({ times: 1, match: (r) => (r.json as { user_id?: number }).user_id === 1002, reply: { status: 200, text: 'garbage' } });
      sim.resetLog();
      const res = await ask();
      expect(res.data!.nuveqUsers.map((u: { userId: string } | null) => u?.userId ?? null)).toEqual([null, '1001', null, '1001', '1003', '1001']);
      expect(res.errors!.map((e) => [e.path, e.extensions?.code])).toEqual([
        [['nuveqUsers', 0], 'UPSTREAM_ERROR'],
        [['nuveqUsers', 2], 'UPSTREAM_ERROR'],
      ]);
      // One User Detail call per distinct user ("01001" is 1001).
      expect(sim.count((r) => (r.json as { user_id?: number }).user_id === 1001)).toBe(1);
      expect(sim.count((r) => (r.json as { user_id?: number }).user_id === 1002)).toBe(1);
      expect(sim.requests).toBe(3);
    }
  });

  test('a throttled first answer (429) is retried and succeeds', async () => {
    sim.inject({ throttle: true, times: 1 });
    sim.resetLog();
    const started = Date.now();
    const res = await gw.gql(USER, { id: '1001' }, token);
    expect(res.data?.nuveqUser?.userId).toBe('1001');
    // With Retry-After: 1 the retry waits that long; without, a short jittered backoff.
    if (variant.throttleRetryAfter) expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sim.requests).toBe(2);
  });

  test('a sustained throttle is RATE_LIMITED with retryAfter, not UPSTREAM_ERROR; 503 counts as throttling too', async () => {
    sim.inject({ throttle: true });
    sim.resetLog();
    const res = await gw.gql(USER, { id: '1001' }, token);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', vendor: 'NUVEQ', retryAfter: 1 });
    // The client's maxAttempts: the first call and two retries.
    expect(sim.requests).toBe(3);
    sim.clearFaults();
    sim.inject({ reply: { status: 503, headers: { 'retry-after': '2' }, json: { error: 'Busy' } } });
    const busy = await gw.gql(USER, { id: '1002' }, token);
    expect(busy.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 2 });
  });

  test('concurrency shrinks while Nuveq throttles and recovers after', async () => {
    const fresh = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true' }));
    const c = vendorClient<NuveqClient>(fresh, 'nuveq').concurrency;
    expect(c.current).toBe(8);
    sim.latencyMs = 0;
    sim.inject({ throttle: true, times: 8 });
    const during = await fresh.gql(USERS, { ids: Array.from({ length: 16 }, (_, i) => String(1001 + i)) });
    expect(during.data).toBeDefined();
    expect(c.current).toBeLessThan(8);
    for (let round = 0; round < 10 && c.current < 8; round++) await fresh.gql(USERS, { ids: Array.from({ length: 20 }, (_, i) => String(1030 + i + round * 20)) });
    expect(c.current).toBe(8);
  });

  test('over HTTP: after a throttle burst a batch runs at half the limit, and after recovery at 8 again', async () => {
    const fresh = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true' }));
    sim.latencyMs = 0;
    sim.inject({ throttle: true, times: 3 });
    expect((await fresh.gql(USERS, { ids: idRange(1001, 3) })).errors).toBeUndefined();

    // A slow Nuveq, so the simulator sees each wave of calls together.
    sim.latencyMs = 400;
    sim.resetLog();
    const started = Date.now();
    const during = fresh.gql(USERS, { ids: idRange(1011, 16) });
    // Until the first wave is in, or just before its first answer could be back.
    while (sim.requests < 4 && Date.now() - started < 380) await sleep(10);
    await sleep(20);
    // The first wave, before any call has come back: the halved limit exactly.
    expect(sim.requests).toBe(4);
    expect(sim.maxInFlight).toBe(4);
    expect((await during).errors).toBeUndefined();
    expect(sim.requests).toBe(16);
    // Each success run grows the limit by one, so the batch ends below the full 8.
    expect(sim.maxInFlight).toBeLessThan(8);

    sim.latencyMs = 30;
    let peak = 0;
    for (let round = 0; round < 5 && peak < 8; round++) {
      sim.resetLog();
      expect((await fresh.gql(USERS, { ids: idRange(1030 + round * 16, 16) })).errors).toBeUndefined();
      peak = sim.maxInFlight;
    }
    expect(peak).toBe(8);
  });

  test('NUVEQ_CONCURRENCY=3: a batch of 20 keeps exactly 3 calls in flight at most', async () => {
    const three = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_CONCURRENCY: '3' }));
    sim.latencyMs = 50;
    sim.resetLog();
    const res = await three.gql(USERS, { ids: idRange(1001, 20) });
    expect(res.errors).toBeUndefined();
    expect(sim.requests).toBe(20);
    expect(sim.maxInFlight).toBe(3);
  });

  test('the limit is per batch: two requests at once each keep 3 in flight, not 3 between them', async () => {
    const three = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_CONCURRENCY: '3' }));
    sim.latencyMs = 100;
    sim.resetLog();
    const [a, b] = await Promise.all([three.gql(USERS, { ids: idRange(1001, 9) }), three.gql(USERS, { ids: idRange(1101, 9) })]);
    expect(a.errors ?? b.errors).toBeUndefined();
    expect(sim.requests).toBe(18);
    expect(sim.maxInFlight).toBe(6);
  });

  test('a 5 s upstream with a 2 s timeout gives UPSTREAM_TIMEOUT in about 2 s', async () => {
    const quick = await start(nuveqEnv(sim, { NUVEQ_ALLOW_ANONYMOUS: 'true', UPSTREAM_TIMEOUT_MS: '2000' }));
    sim.latencyMs = 5000;
    const started = Date.now();
    const res = await quick.gql(USER, { id: '1001' });
    const took = Date.now() - started;
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', vendor: 'NUVEQ' });
    expect(took).toBeGreaterThanOrEqual(1900);
    // Well before the upstream's 5 s: the timeout, not the answer, ended it. (A bound of 2.6 s
    // failed once in CI at 2,659 ms, with every suite running on the machine's two cores.)
    expect(took).toBeLessThan(3500);
  });
});
