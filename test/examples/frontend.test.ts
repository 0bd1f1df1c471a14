import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createClient, loadUsers, signIn } from '../../examples/frontend/apollo-client.js';
import { oneUser, roomVolume } from '../../examples/frontend/graphql-request.js';
import { createLiveClient, firstSounds, watchRoom } from '../../examples/frontend/live.js';
import { roomsWithErrors, roomWithApollo } from '../../examples/frontend/partial.js';
import WebSocket from 'ws';
import { tour } from '../../examples/tour.js';
import { startDemo, type Demo } from '../../simulators/demo.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ROOT } from '../helpers/process.js';

describe('the examples', () => {
  let demo: Demo;
  let gw: TestGateway;
  beforeAll(async () => {
    demo = await startDemo();
    gw = await startGateway(demo.env);
  });
  afterAll(async () => {
    await gw.close();
    await demo.stop();
  });

  test('the README shows the frontend snippets exactly as they are compiled and run here', () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    for (const file of ['examples/frontend/apollo-client.ts', 'examples/frontend/graphql-request.ts', 'examples/frontend/live.ts', 'examples/frontend/partial.ts']) {
      const block = new RegExp('```ts ' + file.replace(/[./]/g, '\\$&') + '\\n([\\s\\S]*?)```').exec(readme);
      expect(block).not.toBeNull();
      expect(block![1]).toBe(readFileSync(resolve(ROOT, file), 'utf8'));
    }
  });

  test('the Apollo Client snippet works against the server', async () => {
    const client = createClient(`${gw.url}/graphql`);
    const account = await signIn(client, 'ada@example.com', 'demo-ada-1');
    expect(account?.email).toBe('ada@example.com');
    const users = await loadUsers(client, ['1002', '1005']);
    expect(users.map((u) => u?.userId ?? null)).toEqual(['1002', null]);
  });

  test('the partial-answer snippets keep data beside errors: the SDK’s withErrors and Apollo’s errorPolicy all', async () => {
    const rooms = await roomsWithErrors(`${gw.url}/graphql`, ['room-101', 'boardroom']);
    expect(rooms).toEqual([
      { name: expect.any(String), volume: expect.any(Number), codes: [] },
      { name: expect.any(String), volume: undefined, codes: ['UNAUTHENTICATED', 'UNAUTHENTICATED'] },
    ]);
    const login = await gw.gql<{ loginNureva: { token: string } }>('mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }');
    expect(await roomWithApollo(`${gw.url}/graphql`, login.data!.loginNureva.token, 'boardroom')).toEqual({ name: expect.any(String), volume: undefined, codes: ['UNAUTHENTICATED', 'UNAUTHENTICATED'] });
  });

  test('the live snippets work against the server: Apollo Client’s split link and the SDK’s iterators', async () => {
    const login = await gw.gql<{ loginNureva: { token: string } }>('mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }');
    const client = createLiveClient(`${gw.url}/graphql`, () => login.data!.loginNureva.token, WebSocket);
    const online = await new Promise<boolean>((resolve) => {
      const sub = watchRoom(client, 'room-101', (state) => {
        sub.unsubscribe();
        resolve(state);
      });
    });
    expect(online).toBe(true);
    // The same client's queries go over HTTP, with the token.
    const { data } = await client.query({ query: (await import('@switchboard/sdk')).SessionDocument });
    expect(data?.session?.logins.map((l) => l.vendor)).toEqual(['NUREVA']);
    client.stop();
    const heard = await firstSounds(`${gw.url}/graphql`, 'room-101', 3, WebSocket);
    expect(heard).toHaveLength(3);
    expect(heard[0]).toMatchObject({ powerLevel: expect.any(Number) });
  });

  test('the graphql-request snippets work against the server', async () => {
    const volume = await roomVolume(`${gw.url}/graphql`);
    expect(volume).toEqual(expect.any(Number));
    const login = await gw.gql('mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token } }');
    expect(await oneUser(`${gw.url}/graphql`, login.data!.loginClient.token, '1001')).toEqual(expect.any(String));
  });

  test('the tour (npm run example) completes every step', async () => {
    const lines: string[] = [];
    await tour(`${gw.url}/graphql`, (l) => lines.push(l));
    expect(lines.filter((l) => /^ ?\d+\. /.test(l))).toHaveLength(10);
    expect(lines.join('\n')).toContain('/en/user/login?t=');
    expect(lines.at(-1)).toContain('session afterwards: null');
  });
});
