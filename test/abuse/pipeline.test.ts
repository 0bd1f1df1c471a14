import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import type { NuveqSimulator } from '../../simulators/nuveq/simulator.js';
import { buildSchema } from '../../src/graphql/schema.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nurevaEnv, startNureva } from '../../simulators/nureva/demo.js';
import { nuveqEnv, startNuveq } from '../../simulators/nuveq/demo.js';
import { post } from './helpers.js';

/** One pipeline for safety: what the fast path and Apollo Server both must refuse or answer right. */
describe.each([['the fast path', 'true'], ['Apollo Server', 'false']])('abuse: the request pipeline (%s)', (_name, fastPath) => {
  let room: NurevaSimulator;
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    room = await startNureva();
    nuveq = await startNuveq();
    gw = await startGateway({ ...nurevaEnv([{ id: 'room-101', sim: room }]), ...nuveqEnv(nuveq), GRAPHQL_FAST_PATH: fastPath, LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([room.stop(), nuveq.stop()]);
  });

  test.each(['text/plain;charset=json', 'application/x-www-form-urlencoded;json', 'multipart/form-data; boundary=json', 'text/plain', 'TEXT/PLAIN ; x=application/json'])(
    'item 7: a simple request (%s) answers 400 and runs nothing',
    async (contentType) => {
      room.resetLog();
      for (const query of ['mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }', 'mutation { logout }']) {
        const res = await post(gw.url, JSON.stringify({ query }), { 'content-type': contentType });
        expect(res.status).toBe(400);
        expect(res.text).toContain('Cross-Site Request Forgery');
      }
      expect(room.requests).toBe(0);
    },
  );

  test('item 7: with a preflight header, or a JSON type, the same request runs', async () => {
    const query = JSON.stringify({ query: '{ devices { id } }' });
    expect((await post(gw.url, query, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect((await post(gw.url, query, { 'content-type': 'application/json', 'apollo-require-preflight': 'true' })).status).toBe(200);
  });

  test('item 11: a subscription over POST is a 400 BAD_REQUEST, not an internal error with a stack in the log', async () => {
    const res = await post(gw.url, JSON.stringify({ query: 'subscription { x }' }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).errors[0].extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
    expect(gw.logs.entries().filter((l) => Number(l.level) >= 50)).toEqual([]);
  });

  test('item 11: an _entities representation of an unknown type is that item\'s BAD_USER_INPUT; the others resolve', async () => {
    const res = await gw.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on Device { id } } }', {
      r: [{ __typename: 'Nope', id: 1 }, { __typename: 'Device', id: 'room-101' }, { __typename: 'Query' }, 'not an object'],
    });
    expect(res.data!._entities).toEqual([null, { id: 'room-101' }, null, null]);
    expect(res.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
      [['_entities', 0], 'BAD_USER_INPUT'],
      [['_entities', 2], 'BAD_USER_INPUT'],
      [['_entities', 3], 'BAD_USER_INPUT'],
    ]);
    expect(gw.logs.entries().filter((l) => Number(l.level) >= 50)).toEqual([]);
  });

  test('item 10: _entities with failed users before found devices answers one entry per representation', async () => {
    const r = [
      { __typename: 'NuveqUser', id: 'nuveq:1001' },
      { __typename: 'Device', id: 'nope' },
      { __typename: 'Device', id: 'room-101' },
      { __typename: 'NuveqUser', id: 'nuveq:1002' },
      { __typename: 'Device', id: 'room-101' },
    ];
    const res = await gw.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on Device { id } ... on NuveqUser { userId } } }', { r });
    expect(res.data!._entities).toEqual([null, null, { id: 'room-101' }, null, { id: 'room-101' }]);
    expect(res.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
      [['_entities', 0], 'UNAUTHENTICATED'],
      [['_entities', 3], 'UNAUTHENTICATED'],
    ]);
  });
});

describe('abuse: through @apollo/gateway', () => {
  let room: NurevaSimulator;
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  let router: ApolloServer;
  beforeAll(async () => {
    room = await startNureva();
    nuveq = await startNuveq();
    gw = await startGateway({ ...nurevaEnv([{ id: 'room-101', sim: room }, { id: 'boardroom', sim: room }]), ...nuveqEnv(nuveq), LOG_LEVEL: 'warn' });
    // A second subgraph holding references to both kinds of Switchboard entity, in one list: the
    // router resolves them in one _entities fetch, in this order.
    const other = parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
      type Device @key(fields: "id", resolvable: false) { id: ID! }
      type NuveqUser @key(fields: "id", resolvable: false) { id: ID! }
      union Thing = Device | NuveqUser
      type Query { things: [Thing]! }
    `);
    const composed = composeServices([
      { name: 'switchboard', typeDefs: parse(printSubgraphSchema(buildSchema())), url: `${gw.url}/graphql` },
      { name: 'rooms', typeDefs: other, url: 'http://rooms.invalid/graphql' },
    ]);
    expect(composed.errors).toBeUndefined();
    const things = [
      { __typename: 'NuveqUser', id: 'nuveq:1001' },
      { __typename: 'Device', id: 'nope' },
      { __typename: 'Device', id: 'room-101' },
      { __typename: 'NuveqUser', id: 'nuveq:1002' },
      { __typename: 'Device', id: 'boardroom' },
    ];
    router = new ApolloServer({
      gateway: new ApolloGateway({
        supergraphSdl: composed.supergraphSdl!,
        buildService: ({ name, url }) =>
          name === 'rooms'
            ? new (class extends RemoteGraphQLDataSource {
                override async process() {
                  return { data: { things } } as never;
                }
              })({ url })
            : new RemoteGraphQLDataSource({ url }),
      }),
    });
    await router.start();
  });
  afterAll(async () => {
    await router.stop();
    await gw.close();
    await Promise.all([room.stop(), nuveq.stop()]);
  });

  test('item 10: NuveqUsers without a session and Devices in one _entities fetch: the devices, and one error per failed user', async () => {
    const res = await router.executeOperation({ query: '{ things { ... on Device { id name } ... on NuveqUser { userId } } }' });
    const body = res.body.kind === 'single' ? res.body.singleResult : undefined;
    expect(JSON.stringify(body?.errors)).not.toContain('Expected data._entities');
    const data = body?.data as { things: Array<{ id?: string } | null> };
    expect(data.things.map((t) => t?.id ?? null)).toEqual([null, null, 'room-101', null, 'boardroom']);
    const codes = (body?.errors ?? []).map((e) => e.extensions?.code);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(2);
  });
});
