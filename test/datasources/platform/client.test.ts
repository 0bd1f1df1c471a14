import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { PlatformSimulator } from '../../../datasources/platform/simulator.js';
import { expectNoSecrets, platformEnv, startGateway, startPlatform, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';

const LOGIN = 'mutation($e: String!, $p: String!) { loginClient(email: $e, password: $p) { token session { id clientAccount { userId email firstName lastName phoneNumber name id vendor } } } }';
const SIGNUP = 'mutation($input: ClientSignupInput!) { signupClient(input: $input) { token session { id logins { vendor subject } clientAccount { userId email firstName lastName phoneNumber } } } }';

/** Every secret the run saw: the log check at the end looks for all of them. */
const seen = new Set<string>();

function maxInAnyWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('Platform slice', () => {
  const gateways: TestGateway[] = [];
  const sims: PlatformSimulator[] = [];
  async function setup(simOptions: Parameters<typeof startPlatform>[0] = {}, env: Record<string, string> = {}) {
    const sim = await startPlatform(simOptions);
    const gw = await startGateway({ ...platformEnv(sim), ...env });
    sims.push(sim);
    gateways.push(gw);
    seen.add(sim.serviceUser.password);
    return { sim, gw };
  }
  function issuedApiTokens(sim: PlatformSimulator): string[] {
    return sim.log.map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, '')).filter(Boolean);
  }

  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    for (const sim of sims) {
      for (const t of issuedApiTokens(sim)) seen.add(t);
      for (const r of sim.log) if (typeof r.headers['client-token'] === 'string') seen.add(r.headers['client-token']);
      await sim.stop();
    }
    // The service password and every token (api, client, session) are absent from every log line.
    const allLogs = gateways.map((g) => g.logs.text).join('\n');
    expect(allLogs.length).toBeGreaterThan(1000);
    expectNoSecrets(allLogs, [TEST_SECRET, 'demo-ada-1', 'demo-grace-1', 'a-new-password-1', ...seen]);
  });

  describe('service token lifecycle', () => {
    test('20 concurrent operations on a cold cache make exactly 1 service login; 50 more within its life make none', async () => {
      const { sim, gw } = await setup();
      const results = await Promise.all(Array.from({ length: 20 }, () => gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })));
      expect(results.every((r) => r.data?.loginClient?.token)).toBe(true);
      results.forEach((r) => seen.add(r.data!.loginClient.token));
      expect(sim.serviceLogins).toBe(1);
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(20);
      for (let i = 0; i < 50; i++) {
        const r = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' });
        expect(r.errors).toBeUndefined();
      }
      expect(sim.serviceLogins).toBe(1);
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(70);
    });

    test('across token expiries, no request ever carries an expired api_token', async () => {
      const { sim, gw } = await setup({ tokenLifetimeSeconds: 2 });
      const until = Date.now() + 5_000;
      let ok = 0;
      while (Date.now() < until) {
        const batch = await Promise.all(Array.from({ length: 5 }, () => gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })));
        ok += batch.filter((r) => r.data?.loginClient).length;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(ok).toBeGreaterThan(50);
      expect(sim.serviceLogins).toBeGreaterThanOrEqual(3); // renewed at least twice in 5 s of 2 s tokens
      expect(sim.expiredTokenRequests).toBe(0);
    });

    test('a rejected service login is the operator\'s problem: UPSTREAM_ERROR, and a log naming the variable', async () => {
      const { sim, gw } = await setup({}, {});
      sim.serviceUser.password = 'rotated-by-the-vendor';
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'PLATFORM' });
      expect(res.errors?.[0]?.message).not.toMatch(/password/i);
      const entry = gw.logs.entries().find((e) => e.level === 50 && String(e.msg).includes('PLATFORM_SERVICE_PASSWORD'));
      expect(entry).toBeDefined();
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(0);
    });

    test('a 401 on the cached api_token drops it and logs in again once', async () => {
      const { sim, gw } = await setup();
      await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(sim.serviceLogins).toBe(1);
      sim.inject({ times: 1, match: (r) => r.path === '/v1/client/login', reply: { status: 401, json: { errors: [{ code: 'errors.auth.invalid', title: 'Invalid API token', source: { header: 'Authorization' }, status: '401' }] } } });
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors).toBeUndefined();
      expect(sim.serviceLogins).toBe(2);
    });
  });

  describe('pacing under PLATFORM_RATE_LIMIT', () => {
    test('a burst of 400 calls never puts more than the budget in any 60 s window; every caller gets an answer or RATE_LIMITED with retryAfter', async () => {
      const { sim, gw } = await setup({}, { UPSTREAM_TIMEOUT_MS: '3000' });
      const results = await Promise.all(Array.from({ length: 400 }, () => gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })));
      const answered = results.filter((r) => r.data?.loginClient?.token).length;
      const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      expect(answered + limited.length).toBe(400);
      expect(answered).toBe(300);
      for (const r of limited) expect(r.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(55);
      const times = sim.log.filter((r) => r.path === '/v1/client/login').map((r) => r.time);
      expect(times).toHaveLength(300);
      expect(maxInAnyWindow(times, 60_000)).toBeLessThanOrEqual(300);
      expect(sim.maxInWindow('POST /v1/client/login')).toBe(300);
      results.forEach((r) => r.data?.loginClient && seen.add(r.data.loginClient.token));
    });

    test("a vendor 429 is honoured: RATE_LIMITED with the vendor's Retry-After", async () => {
      const { sim, gw } = await setup();
      sim.inject({ throttle: true, times: 1, match: (r) => r.path === '/v1/client/login' });
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 1, vendor: 'PLATFORM' });
    });
  });

  describe('client accounts', () => {
    let sim: PlatformSimulator;
    let gw: TestGateway;
    beforeAll(async () => {
      ({ sim, gw } = await setup());
    });

    test('signup: a UUIDv4 user_id, the documented body, a session holding the new client', async () => {
      const input = { email: 'new.client@example.com', firstName: 'New', lastName: 'Client', password: 'a-new-password-1', phoneNumber: '+27821234567' };
      const res = await gw.gql(SIGNUP, { input });
      expect(res.errors).toBeUndefined();
      seen.add(res.data!.signupClient.token);
      const signup = sim.log.find((r) => r.path === '/v1/client/signup')!;
      const body = signup.json as Record<string, unknown>;
      expect(body.user_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(body).toEqual({ user_id: body.user_id, email: input.email, name: { first_name: 'New', last_name: 'Client' }, password: input.password, phone_number: input.phoneNumber });
      expect(res.data!.signupClient.session.clientAccount).toEqual({ userId: body.user_id, email: input.email, firstName: 'New', lastName: 'Client', phoneNumber: '+27821234567' });
      expect(res.data!.signupClient.session.logins).toEqual([{ vendor: 'PLATFORM', subject: input.email }]);
    });

    test('a duplicate signup gives CONFLICT', async () => {
      const input = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Again', password: 'whatever-1' };
      const res = await gw.gql(SIGNUP, { input });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', vendor: 'PLATFORM' });
    });

    test('a user_id collision (errors.conflict.id) gives CONFLICT too', async () => {
      const taken = [...sim.clients.keys()][0]!;
      const platform = gw.gateway.services.vendors.platform!;
      const original = platform.newUserId;
      platform.newUserId = () => taken as `${string}-${string}-${string}-${string}-${string}`;
      try {
        const res = await gw.gql(SIGNUP, { input: { email: 'someone.else@example.com', firstName: 'S', lastName: 'E', password: 'pw-123456' } });
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
        expect(res.errors?.[0]?.message).toBe('User ID already exists');
      } finally {
        platform.newUserId = original;
      }
    });

    test('a bad phone number gives BAD_USER_INPUT naming the field, with zero vendor calls', async () => {
      sim.resetLog();
      const res = await gw.gql(SIGNUP, { input: { email: 'x@example.com', firstName: 'X', lastName: 'Y', password: 'pw-123456', phoneNumber: '0821234567' } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'phoneNumber' });
      expect(sim.requests).toBe(0);
    });

    test('a vendor validation error names the field', async () => {
      sim.inject({ times: 1, match: (r) => r.path === '/v1/client/signup', reply: { status: 400, json: { errors: [{ code: 'errors.validation.field.value', title: 'Too long', source: { pointer: '/name/last_name' }, status: '400' }] } } });
      const res = await gw.gql(SIGNUP, { input: { email: 'long@example.com', firstName: 'L', lastName: 'N'.repeat(300), password: 'pw-123456' } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'lastName' });
    });

    test('update sends only the given fields; an explicit null clears; the session sees the change', async () => {
      const login = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' });
      const token = login.data!.loginClient.token as string;
      seen.add(token);
      const userId = login.data!.loginClient.session.clientAccount.userId as string;
      sim.resetLog();
      const res = await gw.gql('mutation($input: ClientAccountUpdateInput!) { updateClientAccount(input: $input) { userId firstName lastName phoneNumber email } }', { input: { firstName: 'Amazing Grace', phoneNumber: null } }, token);
      expect(res.errors).toBeUndefined();
      const put = sim.log.find((r) => r.method === 'PUT')!;
      expect(put.path).toBe(`/v1/client/${userId}`);
      expect(put.json).toEqual({ name: { first_name: 'Amazing Grace' }, phone_number: null });
      expect(put.headers['client-token']).toBeTruthy();
      expect(res.data!.updateClientAccount).toEqual({ userId, firstName: 'Amazing Grace', lastName: 'Hopper', phoneNumber: null, email: 'grace@example.com' });
      expect(sim.clients.get(userId)).toMatchObject({ first_name: 'Amazing Grace', last_name: 'Hopper', phone_number: null });
      const session = await gw.gql('{ session { clientAccount { firstName } } }', undefined, token);
      expect(session.data!.session.clientAccount.firstName).toBe('Amazing Grace');
    });

    test('update without a client login gives UNAUTHENTICATED with zero vendor calls', async () => {
      sim.resetLog();
      const res = await gw.gql('mutation { updateClientAccount(input: { firstName: "X" }) { userId } }');
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(sim.requests).toBe(0);
    });

    test('delete wipes the account at the vendor and detaches it from the session', async () => {
      const signup = await gw.gql(SIGNUP, { input: { email: 'leaving@example.com', firstName: 'Lea', lastName: 'Ving', password: 'pw-leaving-1' } });
      const token = signup.data!.signupClient.token as string;
      seen.add(token);
      const userId = signup.data!.signupClient.session.clientAccount.userId as string;
      const res = await gw.gql('mutation { deleteClientAccount(reason: "moving away") }', undefined, token);
      expect(res.data).toEqual({ deleteClientAccount: true });
      const del = sim.log.find((r) => r.method === 'DELETE')!;
      expect(del.json).toEqual({ reason: 'moving away' });
      expect(sim.clients.get(userId)).toMatchObject({ user_id: userId, email: null, first_name: null, last_name: null, phone_number: null, deleted: true });
      const session = await gw.gql('{ session { logins { vendor } clientAccount { userId } } }', undefined, token);
      expect(session.data!.session).toEqual({ logins: [], clientAccount: null });
      const again = await gw.gql(LOGIN, { e: 'leaving@example.com', p: 'pw-leaving-1' });
      expect(again.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    test('a wrong password gives UNAUTHENTICATED and leaves the session as it was', async () => {
      const ok = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      const token = ok.data!.loginClient.token as string;
      seen.add(token);
      const logins = sim.serviceLogins;
      const calls = sim.count((r) => r.path === '/v1/client/login');
      const bad = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'wrong' });
      expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'PLATFORM' });
      // A failed client login is not a rejected service token: one call, no service re-login.
      expect(sim.count((r) => r.path === '/v1/client/login') - calls).toBe(1);
      expect(sim.serviceLogins).toBe(logins);
      const badAttached = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'wrong' }, token);
      expect(badAttached.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const session = await gw.gql('{ session { clientAccount { email } } }', undefined, token);
      expect(session.data!.session.clientAccount.email).toBe('ada@example.com');
    });
  });
});
