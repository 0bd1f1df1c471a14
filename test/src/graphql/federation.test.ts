import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { buildSchema } from '../../../src/graphql/schema.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';

async function batches(gw: TestGateway, vendor: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return Number(new RegExp(`switchboard_dataloader_batches_total\\{vendor="${vendor}",loader="user"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

/** A second subgraph: a company directory whose employees carry a Nuveq badge. */
const directoryTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Employee @key(fields: "id") { id: ID!  name: String!  badge: NuveqUser }
  type NuveqUser @key(fields: "id", resolvable: false) { id: ID! }
  type Query { employees: [Employee!]! }
`);
const employees = [
  { id: 'e1', name: 'Ann', badge: { id: 'nuveq:1001' } },
  { id: 'e2', name: 'Bo', badge: { id: 'nuveq:1002' } },
  { id: 'e3', name: 'Cy', badge: { id: 'nuveq:1001' } },
  { id: 'e4', name: 'Di', badge: { id: 'nuveq:1005' } },
];

describe('Federation 2 subgraph', () => {
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let gw: TestGateway;
  let token: string;
  beforeAll(async () => {
    nuveq = await startNuveq();
    platform = await startPlatform();
    gw = await startGateway({ ...nuveqEnv(nuveq), ...platformEnv(platform) });
    token = (await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }')).data!.loginClient.token;
  });
  afterAll(async () => {
    await gw.close();
    await nuveq.stop();
    await platform.stop();
  });

  test('the subgraph SDL carries @link and @key on the four entities', () => {
    const sdl = printSubgraphSchema(buildSchema());
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.7"');
    for (const type of ['NuveqUser', 'NexudusUser', 'ClientAccount', 'Device']) expect(sdl).toMatch(new RegExp(`type ${type}[^{]*@key\\(fields: "id"\\)`));
  });

  test('_entities with N representations makes one batch per vendor, never N lookups', async () => {
    const ids = ['1001', '1002', '1001', '1003', '1005', '1002', '1004', '1006', '1001', '1007'];
    const representations = [
      ...ids.map((id) => ({ __typename: 'NuveqUser', id: `nuveq:${id}` })),
      { __typename: 'ClientAccount', id: 'platform:not-mine' },
    ];
    const before = await batches(gw, 'NUVEQ');
    nuveq.resetLog();
    const res = await gw.gql(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on NuveqUser { userId name } ... on ClientAccount { email } } }',
      { r: representations },
      token,
    );
    expect(res.errors).toBeUndefined();
    const entities = res.data!._entities as Array<{ userId?: string } | null>;
    expect(entities).toHaveLength(11);
    ids.forEach((id, i) => (id === '1005' ? expect(entities[i]).toBeNull() : expect(entities[i]?.userId).toBe(id)));
    expect(entities[10]).toBeNull();
    expect((await batches(gw, 'NUVEQ')) - before).toBe(1);
    expect(nuveq.userDetailCalls()).toBe(new Set(ids).size);
  });

  test('composed with a second subgraph and served by @apollo/gateway, a query crosses both', async () => {
    const directory = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs: directoryTypeDefs, resolvers: { Query: { employees: () => employees } } }]) });
    const { url: directoryUrl } = await startStandaloneServer(directory, { listen: { port: 0, host: '127.0.0.1' } });
    const composed = composeServices([
      { name: 'switchboard', typeDefs: parse(printSubgraphSchema(buildSchema())), url: `${gw.url}/graphql` },
      { name: 'directory', typeDefs: directoryTypeDefs, url: directoryUrl },
    ]);
    expect(composed.errors).toBeUndefined();
    // The subscriptions compose with it, owned by this subgraph (where a router sends them).
    const subscription = /type Subscription\s+@join__type\(graph: SWITCHBOARD\)\s*\{([^}]*)\}/.exec(composed.supergraphSdl!)?.[1] ?? '';
    for (const field of ['deviceConnection', 'deviceSoundLocation', 'deviceMetrics', 'deviceEvents']) expect(subscription).toContain(`${field}(deviceId: ID!)`);
    expect(composed.supergraphSdl).toMatch(/subscription: Subscription/);
    const gateway = new ApolloServer<{ authorization?: string }>({
      gateway: new ApolloGateway({
        supergraphSdl: composed.supergraphSdl!,
        buildService: ({ url }) =>
          new RemoteGraphQLDataSource<{ authorization?: string }>({
            url,
            // The session travels to Switchboard as it came to the router.
            willSendRequest({ request, context }) {
              if (context.authorization) request.http?.headers.set('authorization', context.authorization);
            },
          }),
      }),
    });
    await gateway.start();
    try {
      const before = await batches(gw, 'NUVEQ');
      nuveq.resetLog();
      const res = await gateway.executeOperation(
        { query: '{ employees { name badge { userId name department { name } } } }' },
        { contextValue: { authorization: `Bearer ${token}` } },
      );
      const body = res.body.kind === 'single' ? res.body.singleResult : undefined;
      expect(body?.errors).toBeUndefined();
      const list = (body?.data as { employees: Array<{ name: string; badge: { userId: string; name: string } | null }> }).employees;
      expect(list.map((e) => [e.name, e.badge?.userId ?? null])).toEqual([
        ['Ann', '1001'],
        ['Bo', '1002'],
        ['Cy', '1001'],
        ['Di', null],
      ]);
      expect(list[0]!.badge!.name).toBe(nuveq.users.get(1001)!.name);
      // One _entities fetch from the router, one DataLoader batch, one call per distinct user.
      expect((await batches(gw, 'NUVEQ')) - before).toBe(1);
      expect(nuveq.userDetailCalls()).toBe(3);
    } finally {
      await gateway.stop();
      await directory.stop();
    }
  });
});
