import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NexudusSimulator } from '../../simulators/nexudus/simulator.js';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import type { PlatformSimulator } from '../../simulators/platform/simulator.js';
import { asClient } from './helpers.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nexudusEnv, startNexudus } from '../../simulators/nexudus/demo.js';
import { nurevaEnv, startNureva } from '../../simulators/nureva/demo.js';
import { platformEnv, startPlatform } from '../../simulators/platform/demo.js';

const LOGIN = 'mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }';
const SESSION = '{ session { id } }';

function as(gw: TestGateway, address: string, query: string, token?: string, variables?: Record<string, unknown>) {
  return asClient(gw.url, address, query, token, variables);
}

describe('abuse: sessions', () => {
  let room: NurevaSimulator;
  beforeAll(async () => {
    room = await startNureva();
  });
  afterAll(async () => {
    await room.stop();
  });

  const gateway = (extra: Record<string, string>) => startGateway({ ...nurevaEnv([{ id: 'room-101', sim: room }]), TRUST_PROXY: '1', LOG_LEVEL: 'warn', ...extra });

  test('item 4: a login flood from one address cannot make another client\'s session answer null', async () => {
    // Small caps, so the flood passes them in a test's time; the defaults are 1,000 and 100,000.
    const gw = await gateway({ SESSIONS_MAX_PER_CLIENT: '20', SESSIONS_MAX: '200', SESSIONS_NEW_PER_CLIENT: '1000' });
    try {
      const victim = (await as(gw, '10.0.0.2', LOGIN)).data!.loginNureva.token as string;
      const flood: string[] = [];
      for (let i = 0; i < 300; i++) {
        const r = await as(gw, '10.0.0.1', LOGIN);
        expect(r.errors).toBeUndefined();
        flood.push(r.data!.loginNureva.token as string);
      }
      expect((await as(gw, '10.0.0.2', SESSION, victim)).data!.session).not.toBeNull();
      // The flood ended only its own oldest sessions: it holds its last 20.
      expect((await as(gw, '10.0.0.1', SESSION, flood[0])).data!.session).toBeNull();
      expect((await as(gw, '10.0.0.1', SESSION, flood[299])).data!.session).not.toBeNull();
      const live = await Promise.all(flood.map((t) => as(gw, '10.0.0.1', SESSION, t)));
      expect(live.filter((r) => r.data?.session).length).toBe(20);
    } finally {
      await gw.close();
    }
  }, 60_000);

  test('item 4: a full store refuses new sessions (RATE_LIMITED) instead of evicting live ones', async () => {
    const gw = await gateway({ SESSIONS_MAX: '30', SESSIONS_NEW_PER_CLIENT: '1000' });
    try {
      const victim = (await as(gw, '10.0.0.2', LOGIN)).data!.loginNureva.token as string;
      const answers = [];
      for (let i = 0; i < 40; i++) answers.push(await as(gw, `10.1.0.${i}`, LOGIN));
      expect(answers.filter((r) => !r.errors).length).toBe(29);
      const refused = answers.filter((r) => r.errors);
      expect(refused.length).toBe(11);
      for (const r of refused) expect(r.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect((await as(gw, '10.0.0.2', SESSION, victim)).data!.session).not.toBeNull();
      // A login with a session attaches to it, needing no room.
      expect((await as(gw, '10.0.0.2', LOGIN, victim)).errors).toBeUndefined();
    } finally {
      await gw.close();
    }
  }, 60_000);

  test('item 4: by default one address starts at most 60 sessions a minute; then RATE_LIMITED with retryAfter', async () => {
    const gw = await gateway({});
    try {
      for (let i = 0; i < 60; i++) expect((await as(gw, '10.0.0.3', LOGIN)).errors).toBeUndefined();
      const refused = await as(gw, '10.0.0.3', LOGIN);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(30);
      expect(refused.errors?.[0]?.message).toContain('SESSIONS_NEW_PER_CLIENT');
      expect((await as(gw, '10.0.0.4', LOGIN)).errors).toBeUndefined();
    } finally {
      await gw.close();
    }
  }, 60_000);
});

describe('abuse: one-time codes', () => {
  let nexudus: NexudusSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    nexudus = await startNexudus({ enforceLimits: false });
    gw = await startGateway(nexudusEnv(nexudus));
  });
  afterAll(async () => {
    await gw.close();
    await nexudus.stop();
  });

  test('item 9: a login with a TOTP code is never answered from the token cache', async () => {
    const login = 'mutation($t: String) { loginNexudus(email: "twofactor@coworking.example", password: "demo-2fa-1", totp: $t) { token } }';
    const before = nexudus.tokenCalls;
    expect((await gw.gql(login, { t: '123456' })).errors).toBeUndefined();
    expect((await gw.gql(login, { t: '123456' })).errors).toBeUndefined();
    // Both went to Nexudus, which decides whether a code may be used again.
    expect(nexudus.tokenCalls - before).toBe(2);
    // Without a code, the second identical login is the cache's.
    const plain = 'mutation { loginNexudus(email: "member@coworking.example", password: "demo-member-1") { token } }';
    const plainBefore = nexudus.tokenCalls;
    await gw.gql(plain);
    await gw.gql(plain);
    expect(nexudus.tokenCalls - plainBefore).toBe(1);
  });
});

describe('abuse: a proxy the gateway was not told about (TRUST_PROXY=0)', () => {
  let platform: PlatformSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    platform = await startPlatform();
    gw = await startGateway({ ...platformEnv(platform), LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await platform.stop();
  });

  const LOGIN_CLIENT = 'mutation($e: String!, $p: String!) { loginClient(email: $e, password: $p) { token } }';

  test('item 11: 30 failures behind one proxy address do not lock out users who logged in from it before; the operator is told', async () => {
    // Grace logged in before, through the same load balancer (every request comes from 127.0.0.1).
    expect((await as(gw, '203.0.113.7', LOGIN_CLIENT, undefined, { e: 'grace@example.com', p: 'demo-grace-1' })).errors).toBeUndefined();
    for (let i = 0; i < 30; i++) {
      const r = await as(gw, `198.51.100.${i}`, LOGIN_CLIENT, undefined, { e: `nobody-${i}@example.com`, p: 'guess' });
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    // The address is locked for new identities (spraying stops)...
    expect((await as(gw, '198.51.100.99', LOGIN_CLIENT, undefined, { e: 'ada@example.com', p: 'demo-ada-1' })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // ...but not for Grace.
    expect((await as(gw, '203.0.113.7', LOGIN_CLIENT, undefined, { e: 'grace@example.com', p: 'demo-grace-1' })).errors).toBeUndefined();
    const warning = gw.logs.entries().find((l) => l.variable === 'TRUST_PROXY');
    expect(warning?.level).toBe(40);
    expect(String(warning?.msg)).toContain('X-Forwarded-For');
  });
});
