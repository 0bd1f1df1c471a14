import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';
import type { NurevaSimOptions, NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import { expectNoSecrets, startGateway, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';
import { sleep, subscribe, TRANSPORTS, within, type LiveSubscription } from '../../helpers/subscriptions.js';

/**
 * Live device data over real WebSocket (graphql-ws) and SSE (graphql-sse) connections against
 * device simulators: each scenario runs against each reading of what the vendor facts leave open
 * (the first heartbeat's timing, whether data and event-stream events are named).
 */
const VARIANTS: Array<[string, NurevaSimOptions]> = [
  ['as documented', {}],
  ['the first heartbeat comes at once', { heartbeatOnConnect: true }],
  ['data events without names', { dataEventNames: 'unnamed' }],
  ['event-stream events without names', { eventNames: 'unnamed' }],
];

const PASSWORDS = { monitor: 'monitor-pass-1', integrator: 'integrator-pass-1', admin: 'ADM-INP-ASS' };
const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token } }';
const CONNECTION = 'subscription($d: ID!) { deviceConnection(deviceId: $d) { deviceId online at } }';
const SOUND = 'subscription($d: ID!) { deviceSoundLocation(deviceId: $d) { deviceId at azimuth powerLevel x y triggeredZones { id label type } voiceDetected speakerActive } }';
const METRICS = 'subscription($d: ID!) { deviceMetrics(deviceId: $d) { deviceId at backgroundNoise } }';
const EVENTS = 'subscription($d: ID!) { deviceEvents(deviceId: $d) { deviceId at source hardware { model deviceStatus hardwareId } data } }';



describe.each(VARIANTS)('device streams (%s)', (_name, variant) => {
  let room: NurevaSimulator;
  let hall: NurevaSimulator;
  let gw: TestGateway;
  const tokens: string[] = [];
  const open: LiveSubscription[] = [];

  const live = (transport: (typeof TRANSPORTS)[number], token: string | undefined, query: string, deviceId = 'room-1') => {
    const s = subscribe(transport, gw.url, token, query, { d: deviceId });
    open.push(s);
    return s;
  };

  async function login(account: 'MONITOR' | 'GENERAL' | 'ADMIN', deviceId = 'room-1', token?: string): Promise<string> {
    const password = account === 'GENERAL' ? '' : account === 'MONITOR' ? PASSWORDS.monitor : PASSWORDS.admin;
    const res = await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: deviceId, a: account, p: password }, token);
    if (!res.data?.loginNureva) throw new Error(JSON.stringify(res.errors));
    tokens.push(res.data.loginNureva.token);
    return res.data.loginNureva.token;
  }

  beforeAll(async () => {
    const accounts = { monitor: { enabled: true, password: PASSWORDS.monitor } };
    const options = { ...variant, accounts, enrollmentCode: PASSWORDS.admin, soundLocationMs: 100, metricsMs: 200 };
    room = await startNureva(options);
    hall = await startNureva({ ...options, model: 'hdl310' });
    gw = await startGateway(nurevaEnv([{ id: 'room-1', sim: room }, { id: 'hall-1', sim: hall }]));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    room.clearFaults();
    room.streams.quiet = false;
    // Every test starts with no device stream open: the last subscriber's leave closed them.
    await within(3000, () => room.streams.open() === 0 && hall.streams.open() === 0, 'streams closed after the test');
  });
  afterAll(async () => {
    await gw.close();
    await room.stop();
    await hall.stop();
    const authParameters = [room, hall].flatMap((s) => s.log.map((r) => String(r.headers.authorization ?? '').replace(/^Nureva /, ''))).filter(Boolean);
    expectNoSecrets(gw.logs.text, [TEST_SECRET, ...Object.values(PASSWORDS), ...authParameters, ...tokens]);
  });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    test('deviceConnection reports the device online within 5 s', async () => {
      const token = await login('GENERAL');
      const started = Date.now();
      const s = live(transport, token, CONNECTION);
      const first = await s.nextData(5000, 0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(first.data!.deviceConnection).toEqual({ deviceId: 'room-1', online: true, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/) });
    });

    test('deviceSoundLocation delivers what the device sent, mapped to the contract', async () => {
      const token = await login('MONITOR');
      const s = live(transport, token, SOUND);
      const got = (await s.nextData(5000, 0)).data!.deviceSoundLocation;
      const sent = (room.streams.sent.get('soundLocation') ?? []) as Array<Record<string, any>>;
      const source = sent.find((b) => b.powerLevel === got.powerLevel && b.coordinates?.x === got.x && b.coordinates?.y === got.y);
      expect(source).toBeDefined();
      expect(got).toEqual({
        deviceId: 'room-1',
        at: `${String(source!.time).slice(0, 19)}+00:00`,
        azimuth: null,
        powerLevel: source!.powerLevel,
        x: source!.coordinates.x,
        y: source!.coordinates.y,
        triggeredZones: source!.triggeredZones,
        voiceDetected: source!.flags.voiceDetected,
        speakerActive: false,
      });
      // HDL310: azimuth, no coordinates.
      const hallToken = await login('MONITOR', 'hall-1');
      const h = live(transport, hallToken, SOUND, 'hall-1');
      const fromHall = (await h.nextData(5000, 0)).data!.deviceSoundLocation;
      expect(fromHall).toMatchObject({ deviceId: 'hall-1', x: null, y: null, azimuth: expect.any(Number) });
      expect(((hall.streams.sent.get('soundLocation') ?? []) as Array<Record<string, any>>).some((b) => b.azimuth === fromHall.azimuth)).toBe(true);
    });

    test('deviceMetrics delivers the background noise', async () => {
      const token = await login('MONITOR');
      const s = live(transport, token, METRICS);
      const got = (await s.nextData(5000, 0)).data!.deviceMetrics;
      expect(got).toEqual({ deviceId: 'room-1', at: expect.any(String), backgroundNoise: expect.any(Number) });
      expect(((room.streams.sent.get('deviceMetrics') ?? []) as Array<{ backgroundNoise: number }>).map((b) => b.backgroundNoise)).toContain(got.backgroundNoise);
    });

    test('deviceEvents delivers a pulled cable as hardware, and never the enrollment code', async () => {
      const token = await login('ADMIN');
      const s = live(transport, token, EVENTS);
      await within(5000, () => room.streams.open('events') === 1, 'the event stream opened');
      await sleep(100);
      room.pullCable();
      room.streams.emit('ledStateUpdated', () => ({ state: 'on', enrollmentCode: PASSWORDS.admin }));
      const cable = (await s.nextData(5000, 0)).data!.deviceEvents;
      // The simulator sent the admin's body, code included; nobody downstream sees it.
      expect(JSON.stringify(room.streams.sent.get('/api/v1/audio/hardware'))).toContain(PASSWORDS.admin);
      expect(cable.source).toBe(variant.eventNames === 'unnamed' ? 'message' : '/api/v1/audio/hardware');
      expect(cable.hardware).toEqual({ model: 'hdl410', deviceStatus: 'CableUnplugged', hardwareId: expect.any(String) });
      expect(JSON.parse(cable.data)).toMatchObject({ deviceStatus: 'CableUnplugged' });
      const led = (await s.waitFor((r) => r.data?.deviceEvents && r !== s.results[0], 5000)).data!.deviceEvents;
      expect(led).toMatchObject({ source: variant.eventNames === 'unnamed' ? 'message' : 'ledStateUpdated', hardware: null });
      expect(JSON.parse(led.data)).toEqual({ state: 'on' });
      expect(JSON.stringify(s.results)).not.toContain(PASSWORDS.admin);
      room.pullCable(false);
    });

    test('no session, no login for the device, MONITOR on events, an unregistered device: UNAUTHENTICATED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND', async () => {
      const hallOnly = await login('MONITOR', 'hall-1');
      const monitor = await login('MONITOR');
      const before = room.requests;
      expect(await live(transport, undefined, CONNECTION).errorCode()).toBe('UNAUTHENTICATED');
      expect(await live(transport, 'not-a-session', SOUND).errorCode()).toBe('UNAUTHENTICATED');
      expect(await live(transport, hallOnly, SOUND).errorCode()).toBe('UNAUTHENTICATED');
      expect(await live(transport, monitor, EVENTS).errorCode()).toBe('FORBIDDEN');
      const connections = room.connections;
      expect(await live(transport, monitor, SOUND, 'room-404').errorCode()).toBe('NOT_FOUND');
      expect(await live(transport, monitor, CONNECTION, 'room-404').errorCode()).toBe('NOT_FOUND');
      // None of these reached a device.
      expect(room.requests).toBe(before);
      expect(room.connections).toBe(connections);
      for (const s of open) await s.untilEnded();
    });

    test('logout ends the session’s subscriptions with UNAUTHENTICATED within 2 s', async () => {
      const token = await login('GENERAL');
      const subs = [live(transport, token, CONNECTION), live(transport, token, EVENTS)];
      await subs[0]!.nextData(5000, 0);
      await within(5000, () => room.streams.open('events') === 1, 'the event stream opened');
      const logout = await gw.gql<{ logout: boolean }>('mutation { logout }', {}, token);
      expect(logout.data?.logout).toBe(true);
      const started = Date.now();
      for (const s of subs) {
        expect(await s.errorCode(2000)).toBe('UNAUTHENTICATED');
        await s.untilEnded(2000);
      }
      expect(Date.now() - started).toBeLessThan(2000);
      await within(2000, () => room.streams.open('events') === 0, 'the event stream closed with its last subscriber');
    });
  });

  test('3 subscribers with one login share 1 device stream, closed within 2 s of the last leaving; another account gets its own', async () => {
    const token = await login('MONITOR');
    const other = await login('ADMIN');
    const before = room.count((r) => r.path === '/api/v1/data');
    const subs = [live('ws', token, SOUND), live('sse', token, SOUND), live('ws', token, METRICS)];
    await Promise.all(subs.map((s) => s.nextData(5000, 0)));
    expect(room.streams.open('data')).toBe(1);
    expect(room.count((r) => r.path === '/api/v1/data') - before).toBe(1);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_upstream_streams_open\{vendor="NUREVA",stream="data"\} 1/);
    expect(metrics).toMatch(/switchboard_subscriptions_active\{field="deviceSoundLocation"\} 2/);
    const admin = live('ws', other, SOUND);
    await admin.nextData(5000, 0);
    expect(room.streams.open('data')).toBe(2);
    admin.close();
    for (const s of subs) s.close();
    const took = await within(2000, () => room.streams.open('data') === 0, 'the shared stream closed');
    expect(took).toBeLessThan(2000);
  });
});
