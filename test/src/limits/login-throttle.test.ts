import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';

const LOGIN = 'mutation($e: String!, $p: String!) { loginClient(email: $e, password: $p) { token } }';

describe('failed-login throttle', () => {
  let sim: PlatformSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    sim = await startPlatform();
    gw = await startGateway(platformEnv(sim));
  });
  afterAll(async () => {
    await gw.close();
    await sim.stop();
  });

  const clientLogins = () => sim.count((r) => r.path === '/v1/client/login');

  test('after 5 failures for one identity, further attempts are RATE_LIMITED without reaching the vendor', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await gw.gql(LOGIN, { e: 'ada@example.com', p: `guess-${i}` });
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const before = clientLogins();
    const blocked = await gw.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
    expect(blocked.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', vendor: 'PLATFORM' });
    expect(blocked.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(800);
    expect(clientLogins()).toBe(before);
    // Identities are counted apart (by email, case-insensitively).
    expect((await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' })).errors).toBeUndefined();
    expect((await gw.gql(LOGIN, { e: 'ADA@example.com', p: 'x' })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  test('aliases in one request cannot multiply attempts', async () => {
    // Mutation fields run one by one, and a failed login (non-null) ends the operation: one
    // request with 8 aliased guesses reaches the vendor once, and counts as one failure.
    const aliases = Array.from({ length: 8 }, (_, i) => `a${i}: loginClient(email: "grace@example.com", password: "wrong-${i}") { token }`).join('\n');
    const before = clientLogins();
    const res = await gw.gql(`mutation { ${aliases} }`);
    expect(res.data).toBeNull();
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(clientLogins() - before).toBe(1);
    for (let i = 0; i < 4; i++) expect((await gw.gql(LOGIN, { e: 'grace@example.com', p: `more-${i}` })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gw.gql(LOGIN, { e: 'grace@example.com', p: 'demo-grace-1' })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  test('parallel guesses cannot slip a burst past the limit; identical parallel logins are not limited', async () => {
    const other = await startPlatform();
    const g2 = await startGateway(platformEnv(other));
    try {
      const guesses = await Promise.all(Array.from({ length: 30 }, (_, i) => g2.gql(LOGIN, { e: 'grace@example.com', p: `parallel-${i}` })));
      const reached = other.count((r) => r.path === '/v1/client/login');
      expect(reached).toBeLessThanOrEqual(5);
      expect(guesses.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(25);
      const same = await Promise.all(Array.from({ length: 20 }, () => g2.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' })));
      expect(same.every((r) => r.data?.loginClient?.token)).toBe(true);
    } finally {
      await g2.close();
      await other.stop();
    }
  });

  test('one client address is limited across identities', async () => {
    const other = await startPlatform();
    const g3 = await startGateway({ ...platformEnv(other), LOGIN_MAX_FAILURES_PER_CLIENT: '3' });
    try {
      for (const n of [1, 2, 3]) expect((await g3.gql(LOGIN, { e: `nobody${n}@example.com`, p: 'x' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const before = other.count((r) => r.path === '/v1/client/login');
      const res = await g3.gql(LOGIN, { e: 'ada@example.com', p: 'demo-ada-1' });
      expect(res.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(other.count((r) => r.path === '/v1/client/login')).toBe(before);
    } finally {
      await g3.close();
      await other.stop();
    }
  });
});
