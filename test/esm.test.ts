import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { GraphQLClient, gql as tag } from 'graphql-request';
import { decodeJwt, SignJWT } from 'jose';
import { startGateway, type TestGateway } from './helpers/gateway.js';

// jose 6 and graphql-request 7 ship only ESM: this file fails to load unless Jest runs native ESM.
describe('ESM-only dependencies under Jest', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({});
  });
  afterAll(() => gw.close());

  test('jose signs and decodes a JWT', async () => {
    const token = await new SignJWT({ r: ['service'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new Uint8Array(32).fill(7));
    expect(decodeJwt(token).r).toEqual(['service']);
  });

  test('graphql-request talks to the real gateway', async () => {
    const client = new GraphQLClient(`${gw.url}/graphql`);
    const data = await client.request<{ __typename: string }>(tag`{ __typename }`);
    expect(data.__typename).toBe('Query');
  });
});
