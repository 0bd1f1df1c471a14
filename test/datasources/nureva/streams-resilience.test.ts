import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';
import type { NurevaSimOptions, NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sleep, subscribe, within, type LiveSubscription } from '../../helpers/subscriptions.js';

/**
 * Device streams when devices misbehave: heartbeats that stop, streams that drop, logins the
 * device forgot, a device that answers 429. Real time (the heartbeat is 5 s, offline is "within
 * 12 s"), so each scenario runs against the readings that change it.
 */
const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token } }';
const CONNECTION = 'subscription($d: ID!) { deviceConnection(deviceId: $d) { deviceId online at } }';
const SOUND = 'subscription($d: ID!) { deviceSoundLocation(deviceId: $d) { powerLevel x y } }';
const EVENTS = 'subscription($d: ID!) { deviceEvents(deviceId: $d) { source data } }';
const MONITOR = 'monitor-pass-1';


/** The most requests in any 60 s window of these arrival times. */
function busiestMinute(times: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const VARIANTS: Array<[string, NurevaSimOptions]> = [
  ['as documented', {}],
  ['the first heartbeat comes at once', { heartbeatOnConnect: true }],
];

describe.each(VARIANTS)('device streams that break (%s)', (_name, variant) => {
  let room: NurevaSimulator;
  let gw: TestGateway;
  const open: LiveSubscription[] = [];
  const live = (token: string | undefined, query: string, transport: 'ws' | 'sse' = 'ws') => {
    const s = subscribe(transport, gw.url, token, query, { d: 'room-1' });
    open.push(s);
    return s;
  };
  const login = async (account = 'MONITOR', password = MONITOR): Promise<string> => (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: account, p: password })).data!.loginNureva.token;

  beforeAll(async () => {
    room = await startNureva({ ...variant, accounts: { monitor: { enabled: true, password: MONITOR } }, soundLocationMs: 50 });
    gw = await startGateway(nurevaEnv([{ id: 'room-1', sim: room }]));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    room.clearFaults();
    room.streams.quiet = false;
    await within(3000, () => room.streams.open() === 0, 'streams closed after the test');
  });
  afterAll(async () => {
    await gw.close();
    await room.stop();
  });

  test('heartbeats stop: offline within 12 s of the last one, and the device’s other streams are reopened; they resume: online again', async () => {
    const token = await login();
    const s = live(token, CONNECTION);
    const sound = live(token, SOUND);
    await sound.nextData(5000, 0);
    await s.waitFor((r) => r.data?.deviceConnection.online === true, 6000);
    // Let one heartbeat arrive, so "the last heartbeat" is one the device really sent.
    await within(6000, () => room.streams.lastHeartbeatAt > 0, 'a heartbeat');
    room.streams.quiet = true;
    const lastBeat = room.streams.lastHeartbeatAt;
    const offline = await s.waitFor((r) => r.data?.deviceConnection.online === false, 13_000);
    const seenAt = Date.now();
    expect(seenAt - lastBeat).toBeLessThanOrEqual(12_000);
    expect(offline.data!.deviceConnection.deviceId).toBe('room-1');
    // The device went silent without closing: its data stream is presumed as dead as its heartbeat.
    await within(5000, () => room.count((r) => r.path === '/api/v1/data') >= 2, 'the data stream reopened');
    room.streams.quiet = false;
    const from = s.results.length;
    await s.waitFor((r) => r.data?.deviceConnection.online === true, 12_000, from);
  }, 40_000);

  test('a device that does not answer the heartbeat request at all: its first state comes within 5 s', async () => {
    const token = await login();
    room.inject({ match: (r) => r.path === '/api/v1/heartbeat', latencyMs: 20_000 });
    const started = Date.now();
    const s = live(token, CONNECTION);
    const first = await s.nextData(6000, 0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(first.data!.deviceConnection.online).toBe(false);
    room.clearFaults();
  }, 20_000);

  test('a device that cannot be reached is reported offline at once', async () => {
    const token = await login();
    room.inject({ match: (r) => r.path === '/api/v1/heartbeat', drop: true });
    const s = live(token, CONNECTION);
    const first = await s.nextData(5000, 0);
    expect(first.data!.deviceConnection.online).toBe(false);
    room.clearFaults();
  }, 20_000);

  test('a stream dropped by the device: events resume after reconnection, counted in the metrics', async () => {
    const s = live(await login(), SOUND);
    await s.nextData(5000, 0);
    for (let i = 0; i < 3; i++) {
      room.streams.drop('data');
      const from = s.results.length;
      await s.nextData(5000, from);
    }
    expect(room.streams.open('data')).toBe(1);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/switchboard_upstream_stream_reconnects_total\{vendor="NUREVA",stream="data"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
  }, 30_000);

  test('the device forgot the login (401 on the stream): one new login through the token cache, and events resume', async () => {
    const s = live(await login(), SOUND);
    await s.nextData(5000, 0);
    const logins = room.logins;
    room.rotateTokens();
    room.streams.drop('data');
    const from = s.results.length;
    await s.nextData(8000, from);
    expect(room.logins).toBe(logins + 1);
    // The subscription carried on: no error reached the subscriber.
    expect(s.results.some((r) => r.errors)).toBe(false);
  }, 30_000);

  test('a login the device refuses for good (password changed) ends the subscription with UNAUTHENTICATED', async () => {
    const s = live(await login(), SOUND);
    await s.nextData(5000, 0);
    room.accounts.monitor.password = 'changed-by-an-admin';
    room.rotateTokens();
    room.streams.drop('data');
    expect(await s.errorCode(10_000)).toBe('UNAUTHENTICATED');
    await s.untilEnded();
    room.accounts.monitor.password = MONITOR;
  }, 30_000);

  test('a 429 on a stream request is waited out, then the stream reopens', async () => {
    const s = live(await login(), SOUND);
    await s.nextData(5000, 0);
    room.inject({ match: (r) => r.path === '/api/v1/data', throttle: true, times: 2 });
    room.streams.drop('data');
    const from = s.results.length;
    await s.nextData(15_000, from);
    expect(s.results.some((r) => r.errors)).toBe(false);
  }, 30_000);
});

describe('a device that keeps dropping its streams', () => {
  let room: NurevaSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    room = await startNureva({ accounts: { monitor: { enabled: true, password: MONITOR } }, soundLocationMs: 20, heartbeatOnConnect: true });
    gw = await startGateway(nurevaEnv([{ id: 'room-1', sim: room }]));
  });
  afterAll(async () => {
    await gw.close();
    await room.stop();
  });

  test('stream requests stay within the device’s 60 a minute, and events still come between drops', async () => {
    const token = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'MONITOR', p: MONITOR })).data!.loginNureva.token;
    const subs = [subscribe('ws', gw.url, token, SOUND, { d: 'room-1' }), subscribe('sse', gw.url, token, CONNECTION, { d: 'room-1' })];
    await subs[0]!.nextData(5000, 0);
    // Every open stream is cut 100 ms after it opens, for 65 s (more than the device's whole
    // window, so a budget spent twice as fast would show): without a budget the gateway would
    // reopen several times a second.
    const stopAt = Date.now() + 65_000;
    let delivered = 0;
    let openedAt: number | undefined;
    let before = subs[0]!.results.length;
    while (Date.now() < stopAt) {
      await sleep(10);
      // Timed from the device's side, once the gateway's request has reached it: on a slow
      // machine, cuts on a fixed beat could land before a reopened stream had sent anything.
      if (room.streams.open('data') === 0) continue;
      openedAt ??= Date.now();
      if (Date.now() - openedAt < 100) continue;
      room.streams.drop();
      openedAt = undefined;
      // Whether the subscriber got an event since the cut before this one.
      delivered += subs[0]!.results.length > before ? 1 : 0;
      before = subs[0]!.results.length;
    }
    const streamRequests = room.log.filter((r) => r.path === '/api/v1/data' || r.path === '/api/v1/heartbeat');
    expect(busiestMinute(streamRequests.map((r) => r.time))).toBeLessThanOrEqual(60);
    // The device never had to refuse one (its own 60/min limit).
    expect(room.refusedStreams).toBe(0);
    expect(streamRequests.length).toBeGreaterThan(20);
    expect(delivered).toBeGreaterThan(10);
    for (const s of subs) s.close();
  }, 100_000);
});
