import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NexudusSimulator } from '../../simulators/nexudus/simulator.js';
import type { NuveqSimulator } from '../../simulators/nuveq/simulator.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { nexudusEnv, startNexudus } from '../../simulators/nexudus/demo.js';
import { nuveqEnv, startNuveq } from '../../simulators/nuveq/demo.js';
import { abandon, asClient, heapAfterGc, MB, timed } from './helpers.js';

const EXISTS = 'query($e: String!) { nexudusUserExists(email: $e) }';

function as(gw: TestGateway, address: string, query: string, variables?: Record<string, unknown>) {
  return asClient(gw.url, address, query, undefined, variables);
}

describe('abuse: a public endpoint that spends a shared vendor budget', () => {
  let nexudus: NexudusSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    nexudus = await startNexudus();
    gw = await startGateway({ ...nexudusEnv(nexudus), TRUST_PROXY: '1', LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await nexudus.stop();
  });

  test('item 5: one client asks nexudusUserExists at most 10 times a minute; the 11th is RATE_LIMITED with no call', async () => {
    nexudus.resetLog();
    for (let i = 0; i < 10; i++) expect((await as(gw, '10.9.0.1', EXISTS, { e: `a${i}@example.com` })).errors).toBeUndefined();
    const before = nexudus.count((r) => r.path === '/en/user/exists');
    const refused = await as(gw, '10.9.0.1', EXISTS, { e: 'a10@example.com' });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', vendor: 'NEXUDUS' });
    expect(nexudus.count((r) => r.path === '/en/user/exists')).toBe(before);
  }, 30_000);

  test('item 5: a flood of nexudusUserExists from many addresses leaves logins their share of the budget', async () => {
    // 40 addresses, 10 questions each: 400 requests, far more than Nexudus' 120 anonymous calls a minute.
    const flood = Promise.all(
      Array.from({ length: 40 }, (_, a) => Promise.all(Array.from({ length: 10 }, (_, i) => as(gw, `10.8.${a}.1`, EXISTS, { e: `f${a}-${i}@example.com` })))),
    );
    await new Promise((r) => setTimeout(r, 500));
    const { ms, value: login } = await timed(() => as(gw, '10.7.0.1', 'mutation { loginNexudus(email: "member@coworking.example", password: "demo-member-1") { token } }'));
    expect(login.errors).toBeUndefined();
    expect(ms).toBeLessThan(10_000);
    const answers = (await flood).flat();
    // Every flood request was answered: a bare true/false, or RATE_LIMITED with retryAfter.
    for (const a of answers) {
      if (a.errors) expect(a.errors[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      else expect(typeof a.data!.nexudusUserExists).toBe('boolean');
    }
    // At most NEXUDUS_EXISTS_RATE_LIMIT (a quarter of 120) reached Nexudus in the minute, and Nexudus never had to throttle.
    expect(nexudus.count((r) => r.path === '/en/user/exists')).toBeLessThanOrEqual(30 + 10);
  }, 60_000);
});

describe('abuse: callers that leave', () => {
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    nuveq = await startNuveq({ latencyMs: 2000 });
    gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), REQUEST_TIMEOUT_MS: '4000', LOG_LEVEL: 'error' });
  });
  afterAll(async () => {
    await gw.close();
    await nuveq.stop();
  });

  test('item 6: 3,000 abandoned requests to a 2 s vendor: calls stop within the request deadline plus 1 s of the last client leaving, and a new request is answered within UPSTREAM_TIMEOUT_MS', async () => {
    const before = await heapAfterGc();
    nuveq.resetLog();
    const started = Date.now();
    const clients: Array<Promise<void>> = [];
    for (let i = 0; i < 3000; i++) {
      clients.push(abandon(gw.url, JSON.stringify({ query: `{ nuveqUser(userId: "${1001 + (i % 100)}") { name } }` }), 100));
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(clients);
    const lastLeft = Date.now();
    // A legitimate request now: queued behind at most the calls already sent.
    const { ms, value: res } = await timed(() => gw.gql('{ nuveqUser(userId: "1001") { name } }'));
    expect(res.errors).toBeUndefined();
    expect(ms).toBeLessThan(10_000);
    // Requests still in the server's backlog when their clients left are read afterwards, and may
    // start a call before the socket's end is seen; none starts past its deadline (4 s here).
    await new Promise((r) => setTimeout(r, 4000 + 2000));
    const late = nuveq.log.filter((r) => r.time > lastLeft + 4000 + 1000);
    expect(late).toEqual([]);
    // Far fewer calls than requests: those in flight when their clients left, and a few read late.
    expect(nuveq.userDetailCalls()).toBeLessThan(500);
    const after = await heapAfterGc();
    expect((after - before) / MB).toBeLessThan(20);
  }, 120_000);

  test('item 6: a closed client socket alone drops its queued calls (the request deadline a minute away)', async () => {
    const far = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), REQUEST_TIMEOUT_MS: '60000', UPSTREAM_TIMEOUT_MS: '10000', LOG_LEVEL: 'error' });
    try {
      nuveq.resetLog();
      // 100 distinct users: 64 calls go out on Nuveq's 64 connections, 36 wait for one to free
      // up (2 s). Their clients leave after 500 ms, so none of the 36 may go out when it does.
      await Promise.all(Array.from({ length: 100 }, (_, i) => abandon(far.url, JSON.stringify({ query: `{ nuveqUser(userId: "${3001 + i}") { name } }` }), 500)));
      const lastLeft = Date.now();
      await new Promise((r) => setTimeout(r, 2000 + 2000));
      expect(nuveq.userDetailCalls()).toBeGreaterThanOrEqual(60);
      expect(nuveq.userDetailCalls()).toBeLessThanOrEqual(64);
      expect(nuveq.log.filter((r) => r.time > lastLeft + 500)).toEqual([]);
    } finally {
      await far.close();
    }
  }, 60_000);

  test('item 6: callers that stay are bounded too: the queue answers RATE_LIMITED at once when full, and nobody waits past REQUEST_TIMEOUT_MS', async () => {
    const small = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true', NUVEQ_CONCURRENCY: '1' }), VENDOR_QUEUE_MAX: '20', REQUEST_TIMEOUT_MS: '3000', UPSTREAM_TIMEOUT_MS: '10000', LOG_LEVEL: 'error' });
    try {
      nuveq.resetLog();
      const { ms, value: answers } = await timed(() => Promise.all(Array.from({ length: 200 }, (_, i) => small.gql(`{ nuveqUser(userId: "${2001 + i}") { name } }`))));
      const codes = answers.map((a) => (a.errors ? String(a.errors[0]!.extensions!.code) : 'ok'));
      const count = (c: string) => codes.filter((x) => x === c).length;
      // 64 connections to Nuveq, 20 waiting: the rest are told at once.
      expect(count('RATE_LIMITED')).toBeGreaterThanOrEqual(100);
      expect(count('ok') + count('UPSTREAM_TIMEOUT') + count('RATE_LIMITED')).toBe(200);
      // Those that waited gave up at the request deadline (3 s), not after the vendor's 2 s per call in turn.
      expect(ms).toBeLessThan(3000 + 2000 + 1000);
    } finally {
      await small.close();
    }
  }, 60_000);
});
