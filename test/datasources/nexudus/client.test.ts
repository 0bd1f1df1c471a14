import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { decodeJwt } from 'jose';
import type { NexudusSimulator } from '../../../datasources/nexudus/simulator.js';
import { expectNoSecrets, nexudusEnv, startGateway, startNexudus, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';

const LOGIN = 'mutation($e: String!, $p: String!, $t: String) { loginNexudus(email: $e, password: $p, totp: $t) { token session { id logins { vendor subject expiresAt } nexudusUser { userId name } } } }';
const IMPERSONATE = 'mutation($id: ID!) { impersonateNexudusUser(userId: $id) { userId token loginUrl expiresAt } }';

describe('Nexudus slice', () => {
  let sim: NexudusSimulator;
  let gw: TestGateway;
  const tokens: string[] = [];

  beforeAll(async () => {
    sim = await startNexudus();
    gw = await startGateway(nexudusEnv(sim));
  });
  afterAll(async () => {
    await gw.close();
    await sim.stop();
    expectNoSecrets(gw.logs.text, [TEST_SECRET, 'demo-admin-1', 'demo-member-1', 'demo-editor-1', 'demo-2fa-1', ...tokens, ...sim.bearers.keys()]);
  });

  async function login(email: string, password: string, totp?: string) {
    const res = await gw.gql(LOGIN, { e: email, p: password, t: totp });
    if (res.data?.loginNexudus) tokens.push(res.data.loginNexudus.token);
    return res;
  }

  test('login: a form-urlencoded password grant; 20 concurrent identical logins make 1 token call', async () => {
    sim.resetLog();
    const bare = 'mutation($e: String!, $p: String!) { loginNexudus(email: $e, password: $p) { token session { logins { vendor subject expiresAt } } } }';
    const results = await Promise.all(Array.from({ length: 20 }, () => gw.gql(bare, { e: 'admin@coworking.example', p: 'demo-admin-1' })));
    results.forEach((r) => r.data?.loginNexudus && tokens.push(r.data.loginNexudus.token));
    expect(results.every((r) => r.data?.loginNexudus?.token)).toBe(true);
    const tokenCalls = sim.log.filter((r) => r.path === '/api/token');
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(tokenCalls[0]!.form!)).toEqual({ grant_type: 'password', username: 'admin@coworking.example', password: 'demo-admin-1' });
    // The subject came from /en/user/me, once, shared with every caller.
    expect(sim.count((r) => r.path === '/en/user/me')).toBe(1);
    const session = results[0]!.data!.loginNexudus.session;
    expect(session.logins).toEqual([{ vendor: 'NEXUDUS', subject: 'admin@coworking.example', expiresAt: expect.stringMatching(/\+00:00$/) }]);
    // Asked for in the login's own answer, the member comes with the new session.
    const withUser = await login('admin@coworking.example', 'demo-admin-1');
    expect(withUser.data!.loginNexudus.session.nexudusUser).toEqual({ userId: '303914611', name: 'Alex Admin' });
    expect(sim.count((r) => r.path === '/api/token')).toBe(1);
  });

  test('the simulator refuses a JSON token request, as Nexudus does', async () => {
    const res = await fetch(`${sim.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username: 'a', password: 'b' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'unsupported_grant_type' });
    // That request used the simulator's anonymous 100 ms slot behind the gateway's back.
    await new Promise((r) => setTimeout(r, 150));
  });

  test('wrong credentials give UNAUTHENTICATED and leave the session unchanged', async () => {
    const ok = await login('member@coworking.example', 'demo-member-1');
    const token = ok.data!.loginNexudus.token as string;
    const bad = await gw.gql(LOGIN, { e: 'admin@coworking.example', p: 'nope' }, token);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NEXUDUS' });
    const session = await gw.gql('{ session { logins { subject } } }', undefined, token);
    expect(session.data!.session.logins).toEqual([{ subject: 'member@coworking.example' }]);
  });

  test('two-factor: the one-time code is sent as totp', async () => {
    expect((await login('twofactor@coworking.example', 'demo-2fa-1')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const ok = await login('twofactor@coworking.example', 'demo-2fa-1', '123456');
    expect(ok.errors).toBeUndefined();
    const call = sim.log.filter((r) => r.path === '/api/token').pop()!;
    expect(call.form!.get('totp')).toBe('123456');
  });

  test('nexudusMe maps the PascalCase record; dates carry an offset; loaded once per request', async () => {
    const { data } = await login('editor@coworking.example', 'demo-editor-1');
    const token = data!.loginNexudus.token as string;
    sim.resetLog();
    const res = await gw.gql('{ nexudusMe { id vendor userId email name isAdmin active lastAccess createdOn } session { nexudusUser { email } } }', undefined, token);
    expect(res.data).toEqual({
      nexudusMe: { id: 'nexudus:303914612', vendor: 'NEXUDUS', userId: '303914612', email: 'editor@coworking.example', name: 'Erin Editor', isAdmin: false, active: true, lastAccess: '2024-05-01T17:40:00+00:00', createdOn: '2018-06-01T08:00:00+00:00' },
      session: { nexudusUser: { email: 'editor@coworking.example' } },
    });
    expect(sim.count((r) => r.path === '/en/user/me')).toBe(1);
  });

  test('nexudusMe without a Nexudus login gives UNAUTHENTICATED with zero vendor calls', async () => {
    sim.resetLog();
    expect((await gw.gql('{ nexudusMe { name } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(sim.requests).toBe(0);
  });

  test('nexudusUserExists: public, a bare true/false; a malformed email makes no call', async () => {
    expect((await gw.gql('{ a: nexudusUserExists(email: "member@coworking.example") b: nexudusUserExists(email: "ghost@coworking.example") }')).data).toEqual({ a: true, b: false });
    sim.resetLog();
    const bad = await gw.gql('{ nexudusUserExists(email: "not-an-email") }');
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    expect(sim.requests).toBe(0);
  });

  describe('impersonation', () => {
    test('without a session: UNAUTHENTICATED with zero vendor calls', async () => {
      sim.resetLog();
      const res = await gw.gql(IMPERSONATE, { id: '303914613' });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NEXUDUS' });
      expect(sim.requests).toBe(0);
    });

    test('a member without ADMIN or User-Edit gets FORBIDDEN', async () => {
      const { data } = await login('member@coworking.example', 'demo-member-1');
      const res = await gw.gql(IMPERSONATE, { id: '303914611' }, data!.loginNexudus.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', vendor: 'NEXUDUS' });
    });

    test('an admin gets the vendor token, the portal loginUrl and expiresAt; the link works once', async () => {
      const { data } = await login('admin@coworking.example', 'demo-admin-1');
      sim.resetLog();
      const res = await gw.gql(IMPERSONATE, { id: '303914613' }, data!.loginNexudus.token);
      expect(res.errors).toBeUndefined();
      const imp = res.data!.impersonateNexudusUser;
      const call = sim.log.find((r) => r.path === '/api/sys/users/303914613/token/refresh')!;
      expect(call.headers.authorization).toMatch(/^Bearer /);
      const claims = decodeJwt(imp.token);
      expect(claims.sub).toBe('303914613');
      expect(claims.exp! - claims.nbf!).toBe(1800);
      expect(imp.userId).toBe('303914613');
      expect(imp.loginUrl).toBe(`${sim.url}/en/user/login?t=${encodeURIComponent(imp.token)}`);
      expect(imp.expiresAt).toBe(new Date(claims.exp! * 1000).toISOString().replace('.000Z', '+00:00'));
      const first = await fetch(imp.loginUrl, { redirect: 'manual' });
      expect(first.status).toBe(302);
      expect(first.headers.get('set-cookie')).toContain('nexudus_session=');
      const second = await fetch(imp.loginUrl, { redirect: 'manual' });
      expect(second.status).toBe(401);
    });

    test('a User-Edit member may impersonate; an unknown user is NOT_FOUND; a bad id makes no call', async () => {
      const { data } = await login('editor@coworking.example', 'demo-editor-1');
      const token = data!.loginNexudus.token as string;
      expect((await gw.gql(IMPERSONATE, { id: '303914613' }, token)).data?.impersonateNexudusUser?.userId).toBe('303914613');
      expect((await gw.gql(IMPERSONATE, { id: '999' }, token)).errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', vendor: 'NEXUDUS' });
      sim.resetLog();
      expect((await gw.gql(IMPERSONATE, { id: '../../admin' }, token)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(sim.requests).toBe(0);
    });
  });

  describe('throttling: Nexudus answers 409 with Retry-After', () => {
    test('a 409 on a read is retried after Retry-After and succeeds', async () => {
      const { data } = await login('admin@coworking.example', 'demo-admin-1');
      sim.inject({ throttle: true, times: 1, match: (r) => r.path === '/en/user/me' });
      const started = Date.now();
      const res = await gw.gql('{ nexudusMe { email } }', undefined, data!.loginNexudus.token);
      expect(res.data).toEqual({ nexudusMe: { email: 'admin@coworking.example' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    });

    test('a 409 on a mutation surfaces RATE_LIMITED with retryAfter', async () => {
      const { data } = await login('admin@coworking.example', 'demo-admin-1');
      sim.resetLog();
      sim.inject({ throttle: true, times: 1, match: (r) => r.path.startsWith('/api/sys/users/') });
      const res = await gw.gql(IMPERSONATE, { id: '303914613' }, data!.loginNexudus.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 1, vendor: 'NEXUDUS' });
      expect(sim.count((r) => r.path.startsWith('/api/sys/users/'))).toBe(1);
    });

    test('pacing keeps calls at least 100 ms apart, so Nexudus never has to throttle', async () => {
      sim.resetLog();
      const emails = Array.from({ length: 8 }, (_, i) => `x${i}@coworking.example`);
      const results = await Promise.all(emails.map((e) => gw.gql('query($e: String!) { nexudusUserExists(email: $e) }', { e })));
      expect(results.every((r) => r.data?.nexudusUserExists === false)).toBe(true);
      const times = sim.log.map((r) => r.time).sort((a, b) => a - b);
      expect(times).toHaveLength(8);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(100);
    });
  });

  test('a 401 on a cached bearer drops it and logs in again once with the session credentials', async () => {
    const { data } = await login('member@coworking.example', 'demo-member-1');
    const token = data!.loginNexudus.token as string;
    sim.revokeBearers();
    sim.resetLog();
    const res = await gw.gql('{ nexudusMe { email } }', undefined, token);
    expect(res.data).toEqual({ nexudusMe: { email: 'member@coworking.example' } });
    expect(sim.count((r) => r.path === '/api/token')).toBe(1);
    expect(sim.count((r) => r.path === '/en/user/me')).toBe(3); // refused, the re-login's own, the retry
  });
});
