import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import type { NexudusSimulator } from '../../../simulators/nexudus/simulator.js';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { concatAST, Kind, parse, print } from 'graphql';
import { ROOT } from '../../helpers/process.js';
import { startDemo, type Demo } from '../../../simulators/demo.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';

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
    demo.sim<NexudusSimulator>('nexudus').enforceLimits = false;
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
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(accept ? { accept } : {}) },
      body: JSON.stringify(payload),
    });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.text()).replace(/"id":"[0-9a-f-]{36}"/g, '"id":"<session>"').replace(/"(expiresAt|lastAccess)":"[^"]*"/g, '"$1":"<time>"') };
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

  type Payload = { query: string; variables?: Record<string, unknown> };
  /** Every query the SDK ships and every query the README shows, with sample variables. */
  const sdkQueries = (() => {
    const dir = resolve(ROOT, 'sdk/operations');
    const document = concatAST(readdirSync(dir).map((f) => parse(readFileSync(resolve(dir, f), 'utf8'))));
    const fragments = document.definitions.filter((d) => d.kind === 'FragmentDefinition');
    const samples: Record<string, Record<string, unknown>> = {
      NexudusUserExists: { email: 'member@coworking.example' },
      Device: { id: 'room-101' },
      NuveqUser: { userId: '1001' },
      NuveqUsers: { userIds: ['1005', '1001', 'x1', '1002', '1001'] },
    };
    return document.definitions.flatMap((d): Array<[string, Payload]> =>
      d.kind === 'OperationDefinition' && d.operation === 'query' ? [[d.name!.value, { query: print({ kind: Kind.DOCUMENT, definitions: [d, ...fragments] }), variables: samples[d.name!.value] }]] : [],
    );
  })();
  const readmeQueries = [...readFileSync(resolve(ROOT, 'README.md'), 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split(/\n(?=query |\{)/).filter((block) => /^\s*(query\b|\{)/.test(block)))
    .map((q, i): [string, Payload] => [`README query ${i + 1}`, { query: q }]);

  test.each([...sdkQueries, ...readmeQueries])('%s answers the same on both paths', async (_name, payload) => {
    const [a, b] = [await raw(fast, tokens.fast!, payload), await raw(apollo, tokens.apollo!, payload)];
    expect(a).toEqual(b);
  });

  test('lists whose items fail at the vendor, among found and unknown ones, answer the same', async () => {
    // 1003 fails at the vendor (500), 1005 is unknown, the rest are found; in several orders.
    demo.sim<NuveqSimulator>('nuveq').inject({ match: (r) => (r.json as { user_id?: number } | undefined)?.user_id === 1003, reply: { status: 500, json: { error: 'boom' } } });
    try {
      for (const ids of [['1003', '1001'], ['1001', '1003', '1002'], ['1005', '1003', '1003', '1001'], ['1003']]) {
        const payload = { query: 'query($ids: [ID!]!) { nuveqUsers(userIds: $ids) { userId name } }', variables: { ids } };
        const [a, b] = [await raw(fast, tokens.fast!, payload), await raw(apollo, tokens.apollo!, payload)];
        expect(a).toEqual(b);
        expect(JSON.parse(a.body).data.nuveqUsers).toHaveLength(ids.length);
      }
    } finally {
      demo.sim<NuveqSimulator>('nuveq').clearFaults();
    }
  });

  test('_entities with failed, unknown and found references in every order answer the same', async () => {
    const refs = [
      { __typename: 'NuveqUser', id: 'nuveq:1001' },
      { __typename: 'NuveqUser', id: 'nuveq:1005' },
      { __typename: 'NuveqUser', id: 'nuveq:x' },
      { __typename: 'Device', id: 'nope' },
      { __typename: 'Device', id: 'room-101' },
      { __typename: 'Nope', id: 1 },
      { __typename: 'ClientAccount', id: 'platform:someone' },
    ];
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on NuveqUser { userId name } ... on Device { id deviceName: name } ... on ClientAccount { email } } }';
    for (let shift = 0; shift < refs.length; shift++) {
      const r = [...refs.slice(shift), ...refs.slice(0, shift)];
      for (const token of [undefined, 'use']) {
        const [a, b] = [await raw(fast, token ? tokens.fast! : '', { query, variables: { r } }), await raw(apollo, token ? tokens.apollo! : '', { query, variables: { r } })];
        expect(a).toEqual(b);
        expect(JSON.parse(a.body).data._entities).toHaveLength(r.length);
      }
    }
  });

  test('documents asked again answer as the first time, operation names told apart, while other documents turn the recent ones over', async () => {
    // Both operations compile (no list of non-null items), so each is its own compiled query.
    const doc = 'query A { __typename } query B { nuveqUser(userId: "1002") { userId name } }';
    const asks: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      asks.push({ query: doc, operationName: 'A' }, { query: doc, operationName: 'B' }, { query: doc, operationName: 'A' });
      // More documents than the fast path keeps as recent ones (8), each asked twice.
      for (let i = 0; i < 10; i++) asks.push({ query: `query Q${i} { __typename }` }, { query: `query Q${i} { __typename }` });
      asks.push({ query: doc, operationName: 'B' }, { query: 'query U($id: ID!) { nuveqUser(userId: $id) { userId } }', variables: { id: String(1001 + round) } });
    }
    for (const payload of asks) expect(await raw(fast, tokens.fast!, payload)).toEqual(await raw(apollo, tokens.apollo!, payload));
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
    const { buildSchema } = await import('../../../src/graphql/schema.js');
    const { ROOT } = await import('../../helpers/process.js');
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
