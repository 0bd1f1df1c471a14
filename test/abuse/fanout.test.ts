import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NuveqSimulator } from '../../simulators/nuveq/simulator.js';
import { startGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../simulators/nuveq/demo.js';
import { post, timed } from './helpers.js';
import { spawnGateway } from '../helpers/process.js';

/** How many vendor calls one request can cause: bounded per list and per request, before any call. */
describe('abuse: vendor calls one request can cause', () => {
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  const env = () => ({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), MAX_VENDOR_CALLS_PER_REQUEST: '300', LOG_LEVEL: 'warn' });
  beforeAll(async () => {
    nuveq = await startNuveq();
    gw = await startGateway(env());
  });
  afterAll(async () => {
    await gw.close();
    await nuveq.stop();
  });

  const USERS = 'query($ids: [ID!]!) { nuveqUsers(userIds: $ids) { userId } }';

  test('item 3: nuveqUsers with 100,000 ids in variables is BAD_USER_INPUT naming the limit, with 0 vendor calls', async () => {
    nuveq.resetLog();
    const ids = Array.from({ length: 100_000 }, (_, i) => String(1_000_000 + i));
    const { ms, value: res } = await timed(() => post(gw.url, JSON.stringify({ query: USERS, variables: { ids } })));
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 500 });
    expect(body.errors[0]!.message).toContain('GRAPHQL_MAX_LIST_ITEMS');
    expect(body.errors[0]!.message).toContain('variables.ids');
    expect(nuveq.requests).toBe(0);
    expect(ms).toBeLessThan(2_000);
  });

  test('item 3: the bound holds for literal lists and federation representations too', async () => {
    nuveq.resetLog();
    const literal = await gw.gql(`{ nuveqUsers(userIds: [${Array.from({ length: 501 }, (_, i) => `"${1001 + i}"`).join(',')}]) { userId } }`);
    expect(literal.errors?.[0]?.message).toContain('GRAPHQL_MAX_LIST_ITEMS');
    const representations = Array.from({ length: 5000 }, (_, i) => ({ __typename: 'NuveqUser', id: `nuveq:${1001 + i}` }));
    const entities = await gw.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on NuveqUser { userId } } }', { r: representations });
    expect(entities.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 500 });
    expect(nuveq.requests).toBe(0);
  });

  test('item 3: aliases times long lists stop at MAX_VENDOR_CALLS_PER_REQUEST, named in the errors', async () => {
    nuveq.resetLog();
    const aliases = Array.from({ length: 3 }, (_, a) => `a${a}: nuveqUsers(userIds: $ids${a}) { userId }`).join(' ');
    const vars = Object.fromEntries(Array.from({ length: 3 }, (_, a) => [`ids${a}`, Array.from({ length: 500 }, (_, i) => String(10_000 + a * 500 + i))]));
    const query = `query(${Object.keys(vars).map((k) => `$${k}: [ID!]!`).join(', ')}) { ${aliases} }`;
    const res = await gw.gql(query, vars);
    // 1,500 distinct ids asked; the request may make 300 calls: the rest are errors naming the limit.
    expect(nuveq.userDetailCalls()).toBeLessThanOrEqual(300);
    const limited = (res.errors ?? []).filter((e) => e.message.includes('MAX_VENDOR_CALLS_PER_REQUEST'));
    expect(limited.length).toBeGreaterThanOrEqual(1200);
    expect(limited[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 300 });
  });

  test('item 3: three maximal requests at once keep /health answering promptly', async () => {
    // The gateway in a process of its own, as it runs for users: in this one it would share its
    // event loop with the simulator's 1,500 answers and its pauses with the whole suite's heap.
    const own = await spawnGateway({ ...env(), SESSION_SECRET: TEST_SECRET });
    nuveq.latencyMs = 50;
    try {
      const calls = nuveq.log.length;
      // Different ids for each: the same ones asked at once would share their calls.
      const idsOf = (r: number) => Array.from({ length: 500 }, (_, i) => String(20_000 + r * 1_000 + i));
      const load = Promise.all([0, 1, 2].map((r) => post(own.url, JSON.stringify({ query: USERS, variables: { ids: idsOf(r) } }))));
      const health: number[] = [];
      for (let i = 0; i < 10; i++) {
        health.push((await timed(() => fetch(`${own.url}/health`))).ms);
        await new Promise((r) => setTimeout(r, 100));
      }
      const answers = await load;
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      // The three ran their calls (300 each, the per-request bound) while /health was asked.
      expect(nuveq.log.length - calls).toBe(900);
      expect(Math.max(...health)).toBeLessThan(250);
    } finally {
      nuveq.latencyMs = 0;
      own.child.kill('SIGTERM');
      await own.exit;
    }
  }, 60_000);
});
