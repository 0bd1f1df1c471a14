import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startDemo, type Demo } from '../../src/demo.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The fast path (compiled, validated documents executed directly) must answer exactly as Apollo
 * Server's pipeline does: same status, content type and body, for successes and errors alike.
 */
describe('fast path parity with the Apollo Server pipeline', () => {
  let demo: Demo;
  let fast: TestGateway;
  let apollo: TestGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    demo = await startDemo();
    demo.sims.nexudus.enforceLimits = false;
    fast = await startGateway({ ...demo.env, NUVEQ_ALLOW_ANONYMOUS: 'false' });
    apollo = await startGateway({ ...demo.env, GRAPHQL_FAST_PATH: 'false' });
    for (const [name, gw] of [['fast', fast], ['apollo', apollo]] as const) {
      const login = await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }');
      tokens[name] = login.data!.loginClient.token;
      await gw.gql('mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }', undefined, tokens[name]);
    }
  });
  afterAll(async () => {
    await fast.close();
    await apollo.close();
    await demo.stop();
  });

  async function raw(gw: TestGateway, token: string, payload: unknown, accept?: string) {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) },
      body: JSON.stringify(payload),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.text()).replace(/"id":"[0-9a-f-]{36}"/g, '"id":"<session>"') };
  }

  const cases: Array<[string, unknown, string | undefined]> = [
    ['a query with variables', { query: 'query U($id: ID!) { nuveqUser(userId: $id) { id userId name lastSeenAt department { id name } } }', variables: { id: '1001' } }, undefined],
    ['a list with nulls', { query: '{ nuveqUsers(userIds: ["1001", "1005", "1002"]) { userId name } }' }, undefined],
    ['a resolver error (BAD_USER_INPUT) beside data', { query: '{ a: nuveqUser(userId: "x") { name } b: nuveqUser(userId: "1001") { name } }' }, undefined],
    ['an error on one device field', { query: '{ devices { id audio { speakerVolume } } }' }, undefined],
    ['the session', { query: '{ session { logins { vendor subject deviceId account } clientAccount { email name } } }' }, undefined],
    ['a mutation', { query: 'mutation { updateDeviceAudio(deviceId: "room-101", input: { microphoneGain: 1 }) { microphoneGain } }' }, undefined],
    ['a named operation among several', { query: 'query A { __typename } query B { devices { id } }', operationName: 'B' }, undefined],
    ['graphql-response+json', { query: '{ devices { id } }' }, 'application/graphql-response+json'],
    ['a variable of the wrong type', { query: 'query U($id: ID!) { nuveqUser(userId: $id) { name } }', variables: { id: { no: 1 } } }, undefined],
    ['a missing variable', { query: 'query U($id: ID!) { nuveqUser(userId: $id) { name } }' }, undefined],
    ['a validation error', { query: '{ nuveqUser { name } }' }, undefined],
    ['a syntax error', { query: '{ nuveqUser(' }, undefined],
    ['an unknown operation name', { query: 'query A { __typename }', operationName: 'Z' }, undefined],
  ];

  test.each(cases)('%s', async (_name, payload, accept) => {
    const [a, b] = [await raw(fast, tokens.fast!, payload, accept), await raw(apollo, tokens.apollo!, payload, accept)];
    expect(a).toEqual(b);
  });

  test('the fast path really serves the plain case (and Apollo the rest)', async () => {
    const before = (await (await fetch(`${fast.url}/metrics`)).text()).match(/switchboard_graphql_operations_total\{type="query",outcome="ok"\} (\d+)/)?.[1];
    await raw(fast, tokens.fast!, { query: '{ devices { id } }' });
    const after = (await (await fetch(`${fast.url}/metrics`)).text()).match(/switchboard_graphql_operations_total\{type="query",outcome="ok"\} (\d+)/)?.[1];
    expect(Number(after) - Number(before ?? 0)).toBe(1);
  });
});

describe('compilation', () => {
  test('every query of the SDK compiles with graphql-jit (none silently falls back)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { resolve } = await import('node:path');
    const { parse, concatAST } = await import('graphql');
    const { compileQuery, isCompiledQuery } = await import('graphql-jit');
    const { buildSchema } = await import('../../src/server.js');
    const { ROOT } = await import('../helpers/process.js');
    const schema = buildSchema();
    const dir = resolve(ROOT, 'sdk/operations');
    const document = concatAST(readdirSync(dir).map((f) => parse(readFileSync(resolve(dir, f), 'utf8'))));
    const queries = document.definitions.flatMap((d) => (d.kind === 'OperationDefinition' && d.operation === 'query' ? [d.name!.value] : []));
    expect(queries.length).toBeGreaterThanOrEqual(6);
    for (const name of queries) {
      const compiled = compileQuery(schema, document, name);
      expect([name, isCompiledQuery(compiled) ? 'compiled' : JSON.stringify(compiled)]).toEqual([name, 'compiled']);
    }
  });
});
