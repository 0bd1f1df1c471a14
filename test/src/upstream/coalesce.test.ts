import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Coalescer } from '../../../src/upstream/coalesce.js';
import { ClientGoneError, RequestScope, type CallScope } from '../../../src/limits/request-scope.js';
import { UpstreamTimeoutError } from '../../../src/errors.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';
import type { NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import type { Clock } from '../../../src/clock.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((r, j) => ((resolve = r), (reject = j)));
  return { promise, resolve, reject };
}

const scope = (maxCalls = 10, controller = new AbortController()) => ({ controller, scope: new RequestScope(controller.signal, Date.now() + 10_000, maxCalls) });

describe('Coalescer', () => {
  test('a call that throws before it is under way is its caller\'s rejection, and leaves nothing in flight', async () => {
    const c = new Coalescer();
    const thrown = new Error('no call');
    const asked = c.run('k', undefined, () => {
      throw thrown;
    });
    await expect(asked).rejects.toBe(thrown);
    expect(c.size).toBe(0);
    expect(await c.run('k', undefined, async () => 'asked again')).toBe('asked again');
  });

  test('a mapped call: the answer is mapped once for every caller, and a map that throws fails them all and ends the entry', async () => {
    const c = new Coalescer();
    let maps = 0;
    const answer = deferred<string>();
    const map = (v: string) => (maps++, { v });
    const all = [c.run('k', undefined, () => answer.promise, map), c.run('k', scope().scope, () => answer.promise, map)];
    expect(c.size).toBe(1);
    answer.resolve('x');
    const [first, joined] = await Promise.all(all);
    // One mapping: the joined caller gets the very object the first did.
    expect(maps).toBe(1);
    expect(first).toEqual({ v: 'x' });
    expect(joined).toBe(first);
    expect(c.size).toBe(0);
    const bad = new Error('unreadable answer');
    const failing = [1, 2].map(() =>
      c.run('k', undefined, async () => 'y', () => {
        throw bad;
      }),
    );
    for (const f of failing) await expect(f).rejects.toBe(bad);
    expect(c.size).toBe(0);
    // Nothing kept: the next caller asks again.
    expect(await c.run('k', undefined, async () => 'z', (v) => v.toUpperCase())).toBe('Z');
  });

  test('callers of one key in flight share one call; a later caller starts a new one', async () => {
    const c = new Coalescer();
    let calls = 0;
    const answer = deferred<string>();
    const work = () => (calls++, answer.promise);
    const all = [c.run('k', undefined, work), c.run('k', scope().scope, work), c.run('k', scope().scope, work)];
    expect(c.size).toBe(1);
    answer.resolve('v');
    expect(await Promise.all(all)).toEqual(['v', 'v', 'v']);
    expect([calls, c.joined, c.size]).toEqual([1, 2, 0]);
    await c.run('k', undefined, async () => (calls++, 'w'));
    expect(calls).toBe(2);
  });

  test('different keys never share; a failure reaches every caller and is not kept', async () => {
    const c = new Coalescer();
    const fail = deferred<string>();
    const a = c.run('a', undefined, () => fail.promise);
    const a2 = c.run('a', undefined, () => Promise.resolve('never'));
    const b = c.run('b', undefined, async () => 'b');
    fail.reject(new Error('vendor down'));
    await expect(a).rejects.toThrow('vendor down');
    await expect(a2).rejects.toThrow('vendor down');
    expect(await b).toBe('b');
    expect(await c.run('a', undefined, async () => 'again')).toBe('again');
  });

  test('each caller spends its own budget; one over budget is refused without touching the others', async () => {
    const c = new Coalescer();
    const answer = deferred<string>();
    const rich = scope(5).scope;
    const poor = scope(0).scope;
    const first = c.run('k', rich, () => answer.promise);
    await expect(c.run('k', poor, () => answer.promise)).rejects.toThrow(/MAX_VENDOR_CALLS_PER_REQUEST/);
    answer.resolve('v');
    expect(await first).toBe('v');
  });

  test('the first caller goes away before its call is sent: a caller still waiting makes the call itself; one gone is refused', async () => {
    const c = new Coalescer();
    const one = scope();
    const two = scope();
    const gone = scope();
    const scopes: Array<CallScope | undefined> = [];
    const first = deferred<string>();
    const work = (s: CallScope | undefined) => (scopes.push(s), scopes.length === 1 ? first.promise : Promise.resolve('asked again'));
    const owner = c.run('k', one.scope, work);
    const joiner = c.run('k', two.scope, work);
    const leaver = c.run('k', gone.scope, work);
    one.controller.abort();
    gone.controller.abort();
    first.reject(new ClientGoneError());
    await expect(owner).rejects.toBeInstanceOf(ClientGoneError);
    await expect(leaver).rejects.toBeInstanceOf(ClientGoneError);
    expect(await joiner).toBe('asked again');
    // The call is made with the caller's own deadline and signal.
    expect(scopes.map((x) => x?.deadline)).toEqual([one.scope.deadline, two.scope.deadline]);
    expect(scopes[0]!.gone).toBe(true);
    expect(scopes[1]!.gone).toBe(false);
    // A caller already gone is refused at once rather than join a call in flight.
    const pending = deferred<string>();
    const next = c.run('k', scope().scope, () => pending.promise);
    await expect(c.run('k', gone.scope, work)).rejects.toBeInstanceOf(ClientGoneError);
    pending.resolve('v');
    expect(await next).toBe('v');
  });

  test('what is the first caller\'s alone does not fail the others: its budget is spent before the call, its deadline is retried', async () => {
    const c = new Coalescer();
    // A first caller with one call left: the call's own spend (a retry inside it) costs it nothing more.
    const last = scope(1).scope;
    expect(await c.run('k', last, async (s) => (s!.spend(), s!.spend(), 'ok'))).toBe('ok');
    await expect(c.run('other', last, async () => 'x')).rejects.toThrow(/MAX_VENDOR_CALLS_PER_REQUEST/);
    // The first caller's earlier deadline ends the call: a later caller with time left asks again.
    const timeout = deferred<string>();
    let calls = 0;
    const work = () => (++calls === 1 ? timeout.promise : Promise.resolve('in time'));
    const early = c.run('t', scope().scope, work);
    const later = c.run('t', scope().scope, work);
    timeout.reject(new UpstreamTimeoutError('NUVEQ'));
    await expect(early).rejects.toBeInstanceOf(UpstreamTimeoutError);
    expect(await later).toBe('in time');
    expect(calls).toBe(2);
  });

  test('forget: a call made stale by a write is not joined any more', async () => {
    const c = new Coalescer();
    const stale = deferred<string>();
    const before = c.run('t dev-1 audio', undefined, () => stale.promise);
    c.forget((k) => k.split(' ')[1] === 'dev-1');
    expect(await c.run('t dev-1 audio', undefined, async () => 'fresh')).toBe('fresh');
    stale.resolve('stale');
    expect(await before).toBe('stale');
  });

  test('the call keeps the first caller\'s deadline; later callers, who arrived later, wait at most that long', async () => {
    const c = new Coalescer();
    const first = new RequestScope(new AbortController().signal, 1234, 10);
    let deadline = 0;
    const answer = deferred<void>();
    const call = c.run('k', first, async (s) => ((deadline = s!.deadline), answer.promise));
    const later = c.run('k', new RequestScope(new AbortController().signal, 5678, 10), async () => undefined);
    answer.resolve();
    await Promise.all([call, later]);
    expect(deadline).toBe(1234);
  });
});

const USER = 'query($id: ID!) { nuveqUser(userId: $id) { userId name } }';
const LOGIN = 'mutation { loginNureva(deviceId: "room-1", account: GENERAL, password: "") { token } }';

describe('coalescing through the gateway, against the simulators', () => {
  let nuveq: NuveqSimulator;
  let nureva: NurevaSimulator;
  let gw: TestGateway;
  let cached: TestGateway;
  let time = Date.now();
  const clock: Clock = { now: () => time };

  beforeAll(async () => {
    nuveq = await startNuveq({ latencyMs: 80 });
    nureva = await startNureva({ latencyMs: 80, accounts: { monitor: { enabled: true, password: 'monitor-pass' } } });
    const env = { ...nuveqEnv(nuveq), ...nurevaEnv([{ id: 'room-1', sim: nureva }]), NUVEQ_ALLOW_ANONYMOUS: 'false' };
    gw = await startGateway(env);
    cached = await startGateway({ ...env, NUVEQ_CACHE_TTL_MS: '1000', NUVEQ_CACHE_MAX: '2' }, { clock });
  });
  afterAll(async () => {
    await gw.close();
    await cached.close();
    await nuveq.stop();
    await nureva.stop();
  });

  const session = async (g: TestGateway) => (await g.gql<{ loginNureva: { token: string } }>(LOGIN)).data!.loginNureva.token;

  test('Nuveq: identical User Detail calls in flight share one call across requests and sessions; each request is still authorized', async () => {
    const [a, b] = [await session(gw), await session(gw)];
    expect(a).not.toBe(b);
    const before = nuveq.userDetailCalls();
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => gw.gql(USER, { id: '1001' }, i % 2 ? a : b)),
      gw.gql('query { nuveqUsers(userIds: ["1001", "1002", "1001"]) { userId } }', {}, a),
      // No session: refused before it could use the shared answer.
      gw.gql(USER, { id: '1001' }),
    ]);
    expect(nuveq.userDetailCalls() - before).toBe(2);
    for (const r of answers.slice(0, 10)) expect(r.data).toEqual({ nuveqUser: { userId: '1001', name: expect.any(String) } });
    expect(answers[10]!.data).toEqual({ nuveqUsers: [{ userId: '1001' }, { userId: '1002' }, { userId: '1001' }] });
    expect(answers[11]!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // One after another, nothing is shared (no cache by default): each asks Nuveq.
    const again = nuveq.userDetailCalls();
    await gw.gql(USER, { id: '1001' }, a);
    await gw.gql(USER, { id: '1001' }, b);
    expect(nuveq.userDetailCalls() - again).toBe(2);
  });

  test('Nureva: concurrent reads of one device with the same credentials share one call; a write and its read-back never do', async () => {
    const [a, b] = [await session(gw), await session(gw)];
    const audioReads = () => nureva.count((r) => r.method === 'GET' && r.path === '/api/v1/audio');
    const before = audioReads();
    const reads = await Promise.all(Array.from({ length: 8 }, (_, i) => gw.gql('query { device(id: "room-1") { audio { speakerVolume } } }', {}, i % 2 ? a : b)));
    expect(audioReads() - before).toBe(1);
    for (const r of reads) expect(r.data).toEqual({ device: { audio: { speakerVolume: expect.any(Number) } } });
    // A read in flight when a write lands: the write's answer is read after it, not shared with it.
    const pending = gw.gql('query { device(id: "room-1") { audio { speakerVolume } } }', {}, a);
    await new Promise((r) => setTimeout(r, 20));
    const writes = nureva.count((r) => r.method === 'PUT');
    const up = await gw.gql<{ changeDeviceVolume: { speakerVolume: number } }>('mutation { changeDeviceVolume(deviceId: "room-1", direction: UP) { speakerVolume } }', {}, b);
    await pending;
    expect(nureva.count((r) => r.method === 'PUT') - writes).toBe(1);
    const now = await gw.gql<{ device: { audio: { speakerVolume: number } } }>('query { device(id: "room-1") { audio { speakerVolume } } }', {}, a);
    expect(up.data!.changeDeviceVolume.speakerVolume).toBe(now.data!.device.audio.speakerVolume);
    // Other credentials (a MONITOR login) never share a GENERAL login's call.
    const monitor = (await gw.gql<{ loginNureva: { token: string } }>('mutation { loginNureva(deviceId: "room-1", account: MONITOR, password: "monitor-pass") { token } }')).data!.loginNureva.token;
    const split = audioReads();
    await Promise.all([gw.gql('query { device(id: "room-1") { audio { speakerVolume } } }', {}, a), gw.gql('query { device(id: "room-1") { audio { speakerVolume } } }', {}, monitor)]);
    expect(audioReads() - split).toBe(2);
  });

  test('NUVEQ_CACHE_TTL_MS keeps answers (unknown users too) that long, at most NUVEQ_CACHE_MAX of them', async () => {
    const a = await session(cached);
    const calls = () => nuveq.userDetailCalls();
    const start = calls();
    await cached.gql(USER, { id: '1001' }, a);
    await cached.gql(USER, { id: '1001' }, a);
    const unknown = await cached.gql(USER, { id: '1005' }, a);
    await cached.gql(USER, { id: '1005' }, a);
    expect(unknown.data).toEqual({ nuveqUser: null });
    expect(calls() - start).toBe(2);
    // A third user evicts the least recently used (NUVEQ_CACHE_MAX 2).
    await cached.gql(USER, { id: '1002' }, a);
    await cached.gql(USER, { id: '1001' }, a);
    expect(calls() - start).toBe(4);
    // Past the TTL, Nuveq is asked again.
    time += 1001;
    await cached.gql(USER, { id: '1001' }, a);
    expect(calls() - start).toBe(5);
    // Without a session, a cached answer is still refused.
    expect((await cached.gql(USER, { id: '1002' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
