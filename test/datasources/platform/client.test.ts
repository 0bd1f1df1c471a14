import type { PlatformClient } from '../../../datasources/platform/client.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { PlatformSimOptions, PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { expectNoSecrets, startGateway, TEST_SECRET, type TestGateway, vendorClient } from '../../helpers/gateway.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';

const LOGIN = 'mutation($e: String!, $p: String!) { loginClient(email: $e, password: $p) { token session { id clientAccount { userId email firstName lastName phoneNumber name id vendor } } } }';
const SIGNUP = 'mutation($input: ClientSignupInput!) { signupClient(input: $input) { token session { id logins { vendor subject } clientAccount { userId email firstName lastName phoneNumber } } } }';

/** Every secret the run saw: the check at the end looks for all of them. */
const seen = new Set<string>();
/** Every GraphQL error the gateways returned in this file, as sent: checked for secrets at the end. */
const errorTexts: string[] = [];

const UPDATE = 'mutation($input: ClientAccountUpdateInput!) { updateClientAccount(input: $input) { userId firstName lastName phoneNumber email } }';
const DELETE = 'mutation($reason: String) { deleteClientAccount(reason: $reason) }';

/** An errors envelope as the vendor sends it. */
function vendorError(status: number, code: string, title: string, source?: Record<string, string>) {
  return { status, json: { errors: [{ id: 'e1', code, title, ...(source ? { source } : {}), status: String(status) }] } };
}

/** Client tokens (not JWTs) the simulator issued since `before`. */
function newClientTokens(sim: PlatformSimulator, before: Set<string>): string[] {
  return [...sim.issuedTokens].filter((t) => !before.has(t) && !t.includes('.'));
}

function maxInAnyWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/**
 * Every scenario runs against each reading of what the Platform documents leave open: whether a
 * 401 names its header, the code of a client's wrong password, how a stale Client-Token is refused,
 * the undocumented 429's Retry-After and whether refused calls count. The plainest first, then one
 * assumption changed at a time.
 */
const VARIANTS: Array<[string, PlatformSimOptions]> = [
  ['as documented', {}],
  ['401s name their header in source.header', { authErrorSource: true }],
  ['a wrong password reads errors.auth.invalid', { clientLoginFailureCode: 'errors.auth.invalid' }],
  ['a wrong password has no code', { clientLoginFailureCode: 'none' }],
  ['a stale Client-Token is 403 errors.forbidden', { clientTokenRejection: 'errors.forbidden' }],
  ['the 429 sends Retry-After', { throttleRetryAfter: true }],
  ['refused calls count toward the budget', { refusedCallsCount: true }],
];

describe.each(VARIANTS)('Platform slice (%s)', (_variant, variant) => {
  /** Whether a client's wrong password reads like a rejected service token (a code other than errors.login.failed). */
  const vaguePassword = (variant.clientLoginFailureCode ?? 'errors.login.failed') !== 'errors.login.failed';
  /** Whether a stale Client-Token reads like a rejected service token (a 401 naming no header). */
  const vagueClientToken = variant.clientTokenRejection !== 'errors.forbidden' && !variant.authErrorSource;
  const staleClientTokenCode = variant.clientTokenRejection === 'errors.forbidden' ? 'FORBIDDEN' : 'UNAUTHENTICATED';
  const gateways: TestGateway[] = [];
  const sims: PlatformSimulator[] = [];
  async function setup(simOptions: Parameters<typeof startPlatform>[0] = {}, env: Record<string, string> = {}) {
    const sim = await startPlatform({ ...variant, ...simOptions });
    // These tests log in far more often than one client would: the per-client session cap is not what they test.
    const gw = await startGateway({ ...platformEnv(sim), SESSIONS_NEW_PER_CLIENT: '1000', ...env });
    sims.push(sim);
    gateways.push(gw);
    seen.add(sim.serviceUser.password);
    // Every password a test sends, every session token and every error the gateway answers is
    // recorded here, so no test can forget to add its own to the final check.
    const send = gw.gql;
    gw.gql = async <T,>(query: string, variables?: Record<string, unknown>, token?: string) => {
      const input = variables?.input as { password?: unknown } | undefined;
      for (const pw of [variables?.p, input?.password]) if (typeof pw === 'string') seen.add(pw);
      const res = await send<T>(query, variables, token);
      for (const e of res.errors ?? []) errorTexts.push(JSON.stringify(e));
      const data = res.data as Record<string, { token?: unknown } | null> | null | undefined;
      for (const t of [data?.loginClient?.token, data?.signupClient?.token]) if (typeof t === 'string') seen.add(t);
      return res;
    };
    return { sim, gw };
  }

  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    let issued = 0;
    for (const sim of sims) {
      // All tokens the simulator ever issued, not only those still in its (resettable) log.
      for (const t of sim.issuedTokens) seen.add(t);
      issued += sim.issuedTokens.size;
      await sim.stop();
    }
    // The service password, client passwords and every token (api, client, session) are absent
    // from every log line and from every error the gateway answered.
    const allLogs = gateways.map((g) => g.logs.text).join('\n');
    expect(allLogs.length).toBeGreaterThan(1000);
    expect(errorTexts.length).toBeGreaterThan(10);
    expect(issued).toBeGreaterThan(300);
    const secrets = [TEST_SECRET, 'demo-ada-1', 'demo-grace-1', 'a-new-password-1', ...seen];
    expectNoSecrets(allLogs, secrets);
    expectNoSecrets(errorTexts.join('\n'), secrets);
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

    test('a vendor-side key rotation (401 naming Authorization) costs exactly one re-login', async () => {
      const { sim, gw } = await setup();
      expect((await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })).errors).toBeUndefined();
      sim.rotateSigningKey();
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors).toBeUndefined();
      expect(sim.serviceLogins).toBe(2);
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(3);
    });
  });

  describe('telling a rejected service token from a client\'s credentials, by the documented codes', () => {
    test('a revoked service token: the next login, edit and delete each succeed, with one service login between them and one 401', async () => {
      const { sim, gw } = await setup();
      const first = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      const token = first.data!.loginClient.token as string;
      sim.rotateSigningKey();
      sim.resetLog();
      const login = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' }, token);
      const update = await gw.gql(UPDATE, { input: { firstName: 'Grace B.' } }, token);
      const remove = await gw.gql(DELETE, { reason: 'rotated' }, token);
      expect([login.errors, update.errors, remove.errors]).toEqual([undefined, undefined, undefined]);
      expect(sim.serviceLogins).toBe(1);
      expect(sim.log.filter((r) => r.path !== '/v1/login/password').length).toBe(4);
    });

    test('a wrong password costs no service login as documented, and at most one a minute under any other reading', async () => {
      const { sim, gw } = await setup();
      for (let i = 0; i < 3; i++) {
        const res = await gw.gql(LOGIN, { e: 'grace@example.com', p: `wrong-grace-pw-${i}` });
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'PLATFORM' });
        expect(res.errors?.[0]?.message).toBe('Wrong email or password');
      }
      expect(sim.serviceLogins).toBe(vaguePassword ? 2 : 1);
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(vaguePassword ? 4 : 3);
    });

    test('a stale Client-Token is refused to the client; telling it from the service token costs at most one service login a minute', async () => {
      const { sim, gw } = await setup();
      const login = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      const token = login.data!.loginClient.token as string;
      sim.revokeClientTokens(login.data!.loginClient.session.clientAccount.userId as string);
      for (let i = 0; i < 3; i++) {
        const res = await gw.gql(UPDATE, { input: { firstName: `A${i}` } }, token);
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: staleClientTokenCode, vendor: 'PLATFORM' });
      }
      expect(sim.count((r) => r.method === 'PUT')).toBe(vagueClientToken ? 4 : 3);
      expect(sim.serviceLogins).toBe(vagueClientToken ? 2 : 1);
    });

    test('a 401 with no code on a client login is told apart the same way', async () => {
      const { sim, gw } = await setup();
      await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      sim.inject({ times: 2, match: (r) => r.path === '/v1/client/login', reply: { status: 401, text: '' } });
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(sim.serviceLogins).toBe(2);
      // Within the minute, the fresh service token is trusted: the next such 401 is the client's.
      sim.inject({ times: 1, match: (r) => r.path === '/v1/client/login', reply: { status: 401, text: '' } });
      expect((await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(sim.serviceLogins).toBe(2);
    });

    test('concurrent callers rejected with the same service token share one service login and all succeed', async () => {
      const { sim, gw } = await setup();
      const token = (await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })).data!.loginClient.token as string;
      sim.rotateSigningKey();
      const answers = await Promise.all(Array.from({ length: 10 }, () => gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' }, token)));
      for (const a of answers) expect(a.errors).toBeUndefined();
      expect(sim.serviceLogins).toBe(2);
    });

    test('a rotated key makes exactly one re-login on signup, which carries no client credentials', async () => {
      const { sim, gw } = await setup();
      expect((await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })).errors).toBeUndefined();
      sim.rotateSigningKey();
      const res = await gw.gql(SIGNUP, { input: { email: 'rotated@example.com', firstName: 'R', lastName: 'K', password: 'pw-rotated-1' } });
      expect(res.errors).toBeUndefined();
      expect(sim.serviceLogins).toBe(2);
      expect(sim.count((r) => r.path === '/v1/client/signup')).toBe(2);
    });

    test('a 401 that arrives when the api_token has reached its exp is taken as a rejected service token', async () => {
      const { sim, gw } = await setup({ tokenLifetimeSeconds: 2 }, { UPSTREAM_TIMEOUT_MS: '8000' });
      expect((await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })).errors).toBeUndefined();
      // Sent with a fresh token, answered after its exp (lifetime 2 s, iat rounded down).
      sim.inject({ times: 1, latencyMs: 2_100, match: (r) => r.path === '/v1/client/login', reply: vendorError(401, 'errors.auth.invalid', 'API token expired') });
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors).toBeUndefined();
      expect(sim.serviceLogins).toBe(2);
      expect(sim.count((r) => r.path === '/v1/client/login')).toBe(3);
      expect(sim.expiredTokenRequests).toBe(0);
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
      // 7, not 1: the least retryAfter an error can carry is 1, so only another value shows the header was read.
      const reply = vendorError(429, 'errors.rate-limit', 'Too many requests');
      sim.inject({ times: 1, match: (r) => r.path === '/v1/client/login', reply: { ...reply, headers: { 'retry-after': '7' } } });
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 7, vendor: 'PLATFORM' });
    });
  });

  describe('client accounts', () => {
    let sim: PlatformSimulator;
    let gw: TestGateway;
    beforeAll(async () => {
      ({ sim, gw } = await setup({ uniqueEmails: true }));
    });

    test('a login gives a ClientAccount: id platform:<uuid>, vendor PLATFORM, name from the login answer', async () => {
      const res = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      const account = res.data!.loginClient.session.clientAccount;
      const userId = sim.clientByEmail('ada@example.com')!.user_id;
      expect(account).toEqual({
        userId,
        id: `platform:${userId}`,
        vendor: 'PLATFORM',
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        firstName: 'Ada',
        lastName: 'Lovelace',
        phoneNumber: '+442071234567',
      });
      expect(account.id).toMatch(/^platform:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
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
      const platform = vendorClient<PlatformClient>(gw, 'platform');
      const original = platform.newUserId;
      platform.newUserId = () => taken as `${string}-${string}-${string}-${string}-${string}`;
      try {
        const res = await gw.gql(SIGNUP, { input: { email: 'someone.else@example.com', firstName: 'S', lastName: 'E', password: 'pw-123456' } });
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
        expect(res.errors?.[0]?.message).toBe('Platform already has a client with this id or email');
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
      const res = await gw.gql(SIGNUP, { input: { email: 'long@example.com', firstName: 'L', lastName: 'N'.repeat(150), password: 'pw-123456' } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'lastName' });
    });

    test('update sends only the given fields; an explicit null clears; the session sees the change', async () => {
      const before = new Set(sim.issuedTokens);
      const login = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' });
      const token = login.data!.loginClient.token as string;
      seen.add(token);
      const userId = login.data!.loginClient.session.clientAccount.userId as string;
      const [clientToken, ...more] = newClientTokens(sim, before);
      expect(more).toEqual([]);
      sim.resetLog();
      const res = await gw.gql(UPDATE, { input: { firstName: 'Amazing Grace', phoneNumber: null } }, token);
      expect(res.errors).toBeUndefined();
      const put = sim.log.find((r) => r.method === 'PUT')!;
      expect(put.path).toBe(`/v1/client/${userId}`);
      expect(put.json).toEqual({ name: { first_name: 'Amazing Grace' }, phone_number: null });
      expect(put.headers['client-token']).toBeTruthy();
      expect(put.headers['client-token']).toBe(clientToken);
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
      const bad = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'wrong-grace-pw-1' });
      expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'PLATFORM' });
      // A failed client login is not a rejected service token: one call, no service re-login
      // (where the code leaves it open, one re-login at most tells them apart).
      expect(sim.count((r) => r.path === '/v1/client/login') - calls).toBeLessThanOrEqual(vaguePassword ? 2 : 1);
      expect(sim.serviceLogins - logins).toBeLessThanOrEqual(vaguePassword ? 1 : 0);
      const badAttached = await gw.gql(LOGIN, { e: 'grace@example.com', p: 'wrong-grace-pw-1' }, token);
      expect(badAttached.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const session = await gw.gql('{ session { clientAccount { email } } }', undefined, token);
      expect(session.data!.session.clientAccount.email).toBe('ada@example.com');
    });

    test('once an account is deleted, update and delete from another session give NOT_FOUND', async () => {
      const input = { email: 'twice@example.com', firstName: 'Two', lastName: 'Sessions', password: 'pw-twice-1' };
      const first = (await gw.gql(SIGNUP, { input })).data!.signupClient.token as string;
      const second = (await gw.gql(LOGIN, { e: input.email, p: input.password })).data!.loginClient.token as string;
      expect((await gw.gql(DELETE, {}, first)).data).toEqual({ deleteClientAccount: true });
      const update = await gw.gql(UPDATE, { input: { firstName: 'Gone' } }, second);
      expect(update.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', vendor: 'PLATFORM' });
      const again = await gw.gql(DELETE, {}, second);
      expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', vendor: 'PLATFORM' });
    });

    test('a Client-Token the vendor no longer accepts is refused to the client, at the cost of one service login at most', async () => {
      const res = await gw.gql(SIGNUP, { input: { email: 'revoked@example.com', firstName: 'Re', lastName: 'Voked', password: 'pw-revoked-1' } });
      const token = res.data!.signupClient.token as string;
      sim.revokeClientTokens(res.data!.signupClient.session.clientAccount.userId as string);
      const logins = sim.serviceLogins;
      sim.resetLog();
      const update = await gw.gql(UPDATE, { input: { firstName: 'X' } }, token);
      expect(update.errors?.[0]?.extensions).toMatchObject({ code: staleClientTokenCode, vendor: 'PLATFORM' });
      expect(sim.count((r) => r.method === 'PUT')).toBeLessThanOrEqual(2);
      expect(sim.serviceLogins - logins).toBeLessThanOrEqual(1);
    });

    test('an unknown error code is mapped by its status, also when the status is a string ("403")', async () => {
      sim.inject({ times: 1, match: (r) => r.path === '/v1/client/signup', reply: vendorError(403, 'errors.account.blocked', 'Signups are blocked') });
      const res = await gw.gql(SIGNUP, { input: { email: 'blocked@example.com', firstName: 'B', lastName: 'L', password: 'pw-blocked-1' } });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', vendor: 'PLATFORM' });
    });
  });

  describe('signup when the login after it fails', () => {
    let sim: PlatformSimulator;
    let gw: TestGateway;
    beforeAll(async () => {
      ({ sim, gw } = await setup());
    });
    const followUp = (r: { path: string }) => r.path === '/v1/client/login';

    test('a throttled follow-up login still gives the signup: the signup token, the account from the input', async () => {
      const input = { email: 'throttled@example.com', firstName: 'Thro', lastName: 'Ttled', password: 'pw-throttled-1', phoneNumber: '+27821234568' };
      sim.inject({ throttle: true, times: 1, match: followUp });
      const before = new Set(sim.issuedTokens);
      const res = await gw.gql(SIGNUP, { input });
      expect(res.errors).toBeUndefined();
      const userId = (sim.log.find((r) => r.path === '/v1/client/signup')!.json as { user_id: string }).user_id;
      // No login answer: what the session knows is the signup input.
      expect(res.data!.signupClient.session.clientAccount).toEqual({ userId, email: input.email, firstName: 'Thro', lastName: 'Ttled', phoneNumber: '+27821234568' });
      expect(res.data!.signupClient.session.logins).toEqual([{ vendor: 'PLATFORM', subject: input.email }]);
      expect(sim.count(followUp)).toBe(1);
      const warning = gw.logs.entries().find((e) => e.level === 40 && String(e.msg).includes('login after signup failed'));
      expect(warning).toMatchObject({ vendor: 'PLATFORM', code: 'RATE_LIMITED' });
      const [signupToken, ...more] = newClientTokens(sim, before);
      expect(more).toEqual([]);
      const token = res.data!.signupClient.token as string;

      // Edits need a token from a client login, even once the client has logged in elsewhere.
      expect((await gw.gql(LOGIN, { e: input.email, p: input.password })).errors).toBeUndefined();
      sim.resetLog();
      const update = await gw.gql(UPDATE, { input: { firstName: 'X' } }, token);
      expect(update.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', vendor: 'PLATFORM' });
      expect(sim.log.find((r) => r.method === 'PUT')!.headers['client-token']).toBe(signupToken);

      // Delete has no such rule; without a reason it sends no body.
      const del = await gw.gql(DELETE, {}, token);
      expect(del.data).toEqual({ deleteClientAccount: true });
      const sent = sim.log.find((r) => r.method === 'DELETE')!;
      expect(sent.path).toBe(`/v1/client/${userId}`);
      expect(sent.headers['client-token']).toBe(signupToken);
      expect(sent.json).toBeUndefined();
      expect(sent.rawBody).toBe('');
      expect(sim.clients.get(userId)).toMatchObject({ deleted: true, email: null });
    });

    test('a follow-up login that never answers still gives the signup', async () => {
      sim.inject({ drop: true, times: 1, match: followUp });
      const res = await gw.gql(SIGNUP, { input: { email: 'dropped@example.com', firstName: 'Dro', lastName: 'Pped', password: 'pw-dropped-1' } });
      expect(res.errors).toBeUndefined();
      expect(res.data!.signupClient.session.clientAccount).toMatchObject({ email: 'dropped@example.com', firstName: 'Dro', lastName: 'Pped', phoneNumber: null });
      // This client never logged in: delete, unlike update, does not need that.
      expect(sim.clientByEmail('dropped@example.com')).toBeDefined();
      expect((await gw.gql(DELETE, { reason: 'changed my mind' }, res.data!.signupClient.token as string)).data).toEqual({ deleteClientAccount: true });
    });

    test('a follow-up login that finds an older account with the same email and password does not stand in for the new one', async () => {
      const input = { email: 'twice@example.com', firstName: 'Two', lastName: 'Times', password: 'pw-twice-1' };
      const first = await gw.gql(SIGNUP, { input });
      expect(first.errors).toBeUndefined();
      const firstId = first.data!.signupClient.session.clientAccount.userId as string;
      sim.resetLog();
      const second = await gw.gql(SIGNUP, { input: { ...input, firstName: 'Second' } });
      expect(second.errors).toBeUndefined();
      const secondId = (sim.log.find((r) => r.path === '/v1/client/signup')!.json as { user_id: string }).user_id;
      expect(secondId).not.toBe(firstId);
      // The simulator's login found the first account; the session holds the one just created.
      expect(sim.count(followUp)).toBe(1);
      expect(second.data!.signupClient.session.clientAccount).toEqual({ userId: secondId, email: input.email, firstName: 'Second', lastName: 'Times', phoneNumber: null });
    });

    test('as documented, an email already in use is no conflict unless the simulator is told to assume one', async () => {
      const res = await gw.gql(SIGNUP, { input: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Again', password: 'pw-ada-again-1' } });
      expect(res.errors).toBeUndefined();
    });
  });
});
