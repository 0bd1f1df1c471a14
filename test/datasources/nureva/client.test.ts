import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { NurevaSimulator } from '../../../datasources/nureva/simulator.js';
import { expectNoSecrets, nurevaEnv, startGateway, startNureva, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';

const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token session { logins { vendor subject deviceId account } } } }';
const AUDIO = 'query($id: ID!) { device(id: $id) { id audio { speakerVolume microphoneGain echoReductionLevel } } }';
const PASSWORDS = { monitor: 'monitor-pass-1', integrator: 'integrator-pass-1', admin: 'ABC-DEF-GHJ' };

describe('Nureva slice', () => {
  let room: NurevaSimulator;
  let huddle: NurevaSimulator;
  let gw: TestGateway;
  const gateways: TestGateway[] = [];
  const sessionTokens: string[] = [];

  beforeAll(async () => {
    const accounts = { monitor: { enabled: true, password: PASSWORDS.monitor }, integrator: { enabled: true, password: PASSWORDS.integrator } };
    room = await startNureva({ accounts, enrollmentCode: PASSWORDS.admin });
    huddle = await startNureva({ accounts, supportedFields: ['microphoneMute', 'microphoneGain', 'speakerVolume', 'speakerTrebleLevel', 'speakerBassLevel'] });
    gw = await startGateway(nurevaEnv([{ id: 'room-1', sim: room }, { id: 'huddle-1', sim: huddle }]));
    gateways.push(gw);
  });
  afterEach(() => {
    room.clearFaults();
    huddle.clearFaults();
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await room.stop();
    await huddle.stop();
    const authParameters = [room, huddle].flatMap((s) => s.log.map((r) => String(r.headers.authorization ?? '').replace(/^Nureva /, ''))).filter(Boolean);
    expectNoSecrets(gateways.map((g) => g.logs.text).join('\n'), [TEST_SECRET, ...Object.values(PASSWORDS), ...authParameters, ...sessionTokens]);
  });

  async function login(deviceId: string, account: string, password: string, token?: string) {
    const res = await gw.gql(LOGIN, { d: deviceId, a: account, p: password }, token);
    if (res.data?.loginNureva) sessionTokens.push(res.data.loginNureva.token);
    return res;
  }

  describe('only registered devices are ever contacted', () => {
    let canary: Server;
    let connections = 0;
    let port = 0;
    beforeAll(async () => {
      canary = createServer((s) => {
        connections++;
        s.destroy();
      });
      await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
      port = (canary.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => canary.close(() => r())));

    test('unknown device ids (IP literals, localhost, metadata addresses) give NOT_FOUND and no connection', async () => {
      const ids = [`127.0.0.1:${port}`, `localhost:${port}`, `http://127.0.0.1:${port}`, `https://localhost:${port}/api/v1/auth/login`, '169.254.169.254', '[::1]', `127.0.0.1`, 'room-1/../../etc', 'ROOM-1'];
      for (const id of ids) {
        const res = await login(id, 'GENERAL', '');
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', vendor: 'NUREVA' });
        const write = await gw.gql('mutation($d: ID!) { updateDeviceAudio(deviceId: $d, input: { microphoneMute: true }) { microphoneMute } }', { d: id });
        expect(write.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect((await gw.gql('query($d: ID!) { device(id: $d) { id audio { speakerVolume } } }', { d: id })).data).toEqual({ device: null });
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(connections).toBe(0);
    });

    test('devices lists the registry without contacting any device', async () => {
      const before = room.connections + huddle.connections;
      const res = await gw.gql('{ devices { id name url } }');
      expect(res.data!.devices).toEqual([
        { id: 'room-1', name: 'room-1', url: room.url },
        { id: 'huddle-1', name: 'huddle-1', url: huddle.url },
      ]);
      expect(room.connections + huddle.connections).toBe(before);
    });
  });

  test('a certificate that does not match the registry fails the login before any request', async () => {
    const wrong = Array.from({ length: 32 }, () => '00').join(':');
    const pinned = await startGateway(nurevaEnv([{ id: 'room-1', sim: room, fingerprint256: wrong }]));
    gateways.push(pinned);
    room.resetLog();
    const res = await pinned.gql(LOGIN, { d: 'room-1', a: 'ADMIN', p: PASSWORDS.admin });
    expect(res.errors?.[0]?.extensions?.code).toMatch(/^UPSTREAM_/);
    expect(res.errors?.[0]?.extensions?.vendor).toBe('NUREVA');
    expect(room.requests).toBe(0);
  });

  test('a registry CA is checked like a fingerprint; insecureTls is explicit and logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-nureva-'));
    const { selfSignedCertificate } = await import('../../../datasources/nureva/simulator.js');
    const other = await selfSignedCertificate();
    writeFileSync(join(dir, 'other-ca.pem'), other.cert);
    writeFileSync(join(dir, 'room-ca.pem'), room.certificate);
    const devices = [
      { id: 'wrong-ca', name: 'Wrong CA', url: room.url, ca: join(dir, 'other-ca.pem') },
      { id: 'right-ca', name: 'Right CA', url: room.url, ca: join(dir, 'room-ca.pem') },
      { id: 'insecure', name: 'Insecure', url: room.url, insecureTls: true },
    ];
    const g = await startGateway({ NUREVA_DEVICES: JSON.stringify(devices) });
    gateways.push(g);
    room.resetLog();
    const wrong = await g.gql(LOGIN, { d: 'wrong-ca', a: 'GENERAL', p: '' });
    expect(wrong.errors?.[0]?.extensions?.code).toMatch(/^UPSTREAM_/);
    expect(room.requests).toBe(0);
    expect((await g.gql(LOGIN, { d: 'right-ca', a: 'GENERAL', p: '' })).errors).toBeUndefined();
    expect((await g.gql(LOGIN, { d: 'insecure', a: 'GENERAL', p: '' })).errors).toBeUndefined();
    expect(g.logs.entries().some((e) => e.level === 40 && e.device === 'insecure' && String(e.msg).includes('insecureTls'))).toBe(true);
    expect(g.logs.entries().some((e) => e.device === 'right-ca' && String(e.msg).includes('insecureTls'))).toBe(false);
  });

  test('every request carries Nureva-Client-Id and Nureva-Client-Version', async () => {
    room.resetLog();
    await login('room-1', 'GENERAL', '');
    expect(room.log.length).toBeGreaterThan(0);
    for (const r of room.log) {
      expect(r.headers['nureva-client-id']).toBe('switchboard');
      expect(r.headers['nureva-client-version']).toBe('0.1.0');
    }
  });

  test('login: the lowercase account; 20 concurrent identical logins make 1 device login', async () => {
    room.resetLog();
    const results = await Promise.all(Array.from({ length: 20 }, () => login('room-1', 'ADMIN', PASSWORDS.admin)));
    expect(results.every((r) => r.data?.loginNureva?.token)).toBe(true);
    const logins = room.log.filter((r) => r.path === '/api/v1/auth/login');
    expect(logins).toHaveLength(1);
    expect(logins[0]!.json).toEqual({ account: 'admin', password: PASSWORDS.admin });
    expect(results[0]!.data!.loginNureva.session.logins).toEqual([{ vendor: 'NUREVA', subject: 'admin@room-1', deviceId: 'room-1', account: 'ADMIN' }]);
  });

  test('wrong credentials and disabled accounts give UNAUTHENTICATED', async () => {
    expect((await login('room-1', 'ADMIN', 'nope')).errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NUREVA' });
    const defaults = await startNureva();
    const g = await startGateway(nurevaEnv([{ id: 'factory', sim: defaults }]));
    gateways.push(g);
    try {
      expect((await g.gql(LOGIN, { d: 'factory', a: 'MONITOR', p: '' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await g.gql(LOGIN, { d: 'factory', a: 'GENERAL', p: '' })).errors).toBeUndefined();
    } finally {
      await defaults.stop();
    }
  });

  test('audio and hardware need a login for that device; loaded once per device per request', async () => {
    const { data } = await login('room-1', 'GENERAL', '');
    const token = data!.loginNureva.token as string;
    const none = await gw.gql(AUDIO, { id: 'huddle-1' }, token);
    expect(none.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NUREVA' });
    room.resetLog();
    const res = await gw.gql('{ a: device(id: "room-1") { audio { speakerVolume } hardware { model deviceStatus firmwareVersion hardwareId } } b: device(id: "room-1") { audio { microphoneGain } } devices { id } }', undefined, token);
    expect(res.data!.a.audio.speakerVolume).toEqual(expect.any(Number));
    expect(res.data!.a.hardware).toMatchObject({ model: 'hdl410', deviceStatus: 'Ok' });
    expect(room.count((r) => r.path === '/api/v1/audio')).toBe(1);
    expect(room.count((r) => r.path === '/api/v1/audio/hardware')).toBe(1);
    for (const r of room.log) expect(r.headers.authorization).toMatch(/^Nureva /);
  });

  test('after the device rotates its tokens, the next read makes exactly one re-login and succeeds', async () => {
    const { data } = await login('room-1', 'GENERAL', '');
    const token = data!.loginNureva.token as string;
    room.rotateTokens();
    room.resetLog();
    const res = await gw.gql(AUDIO, { id: 'room-1' }, token);
    expect(res.errors).toBeUndefined();
    expect(room.count((r) => r.path === '/api/v1/auth/login')).toBe(1);
    expect(room.count((r) => r.path === '/api/v1/audio')).toBe(2);
  });

  describe('writes', () => {
    test('a MONITOR login cannot write (FORBIDDEN), with zero write calls', async () => {
      const { data } = await login('room-1', 'MONITOR', PASSWORDS.monitor);
      const token = data!.loginNureva.token as string;
      expect((await gw.gql(AUDIO, { id: 'room-1' }, token)).data!.device.audio).toBeTruthy();
      room.resetLog();
      const res = await gw.gql('mutation { updateDeviceAudio(deviceId: "room-1", input: { microphoneMute: true }) { microphoneMute } }', undefined, token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', vendor: 'NUREVA' });
      const vol = await gw.gql('mutation { changeDeviceVolume(deviceId: "room-1", direction: UP) { speakerVolume } }', undefined, token);
      expect(vol.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(room.requests).toBe(0);
    });

    test("the device is the final judge: its 403 is FORBIDDEN", async () => {
      const { data } = await login('room-1', 'GENERAL', '');
      room.inject({ times: 1, match: (r) => r.method === 'PATCH', reply: { status: 403, json: { errors: [{ message: 'Policy forbids audio changes' }] } } });
      const res = await gw.gql('mutation { updateDeviceAudio(deviceId: "room-1", input: { microphoneMute: true }) { microphoneMute } }', undefined, data!.loginNureva.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
      expect(res.errors?.[0]?.message).toBe('Policy forbids audio changes');
    });

    test('a GENERAL PATCH carries only the given fields, and returns the new settings', async () => {
      const { data } = await login('room-1', 'GENERAL', '');
      room.resetLog();
      const res = await gw.gql('mutation { updateDeviceAudio(deviceId: "room-1", input: { microphoneGain: -3, echoReductionLevel: "High" }) { microphoneGain echoReductionLevel speakerVolume } }', undefined, data!.loginNureva.token);
      expect(res.data!.updateDeviceAudio).toMatchObject({ microphoneGain: -3, echoReductionLevel: 'High' });
      const patch = room.log.find((r) => r.method === 'PATCH')!;
      expect(patch.json).toEqual({ microphoneGain: -3, echoReductionLevel: 'High' });
      expect(room.audio.microphoneGain).toBe(-3);
    });

    test.each([
      ['microphoneGain: 13', 'microphoneGain'],
      ['microphoneGain: -7', 'microphoneGain'],
      ['speakerTrebleLevel: 101', 'speakerTrebleLevel'],
      ['speakerBassLevel: -1', 'speakerBassLevel'],
      ['voiceAmplificationLevel: 41', 'voiceAmplificationLevel'],
      ['noiseReductionLevel: "Extreme"', 'noiseReductionLevel'],
      ['microphoneMute: null', 'microphoneMute'],
    ])('out-of-range input (%s) is BAD_USER_INPUT with zero calls', async (input, field) => {
      const { data } = await login('room-1', 'GENERAL', '');
      room.resetLog();
      const res = await gw.gql(`mutation { updateDeviceAudio(deviceId: "room-1", input: { ${input} }) { microphoneGain } }`, undefined, data!.loginNureva.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(room.requests).toBe(0);
    });

    test("the device's 400 Unsupported Attributes is BAD_USER_INPUT naming the field", async () => {
      const { data } = await login('huddle-1', 'GENERAL', '');
      const res = await gw.gql('mutation { updateDeviceAudio(deviceId: "huddle-1", input: { voiceAmplificationEnabled: true }) { microphoneGain } }', undefined, data!.loginNureva.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'voiceAmplificationEnabled', vendor: 'NUREVA' });
    });

    test('changeDeviceVolume: PUT increment/decrement, then the new settings (steps of 4 to 6)', async () => {
      const { data } = await login('room-1', 'GENERAL', '');
      const token = data!.loginNureva.token as string;
      const before = room.audio.speakerVolume!;
      room.resetLog();
      const up = await gw.gql('mutation { changeDeviceVolume(deviceId: "room-1", direction: UP) { speakerVolume } }', undefined, token);
      const step = up.data!.changeDeviceVolume.speakerVolume - before;
      expect(step).toBeGreaterThanOrEqual(4);
      expect(step).toBeLessThanOrEqual(6);
      expect(room.log.map((r) => `${r.method} ${r.path}`)).toEqual(['PUT /api/v1/audio/volume/change', 'GET /api/v1/audio']);
      expect(room.log[0]!.json).toEqual({ operation: 'increment' });
      await gw.gql('mutation { changeDeviceVolume(deviceId: "room-1", direction: DOWN) { speakerVolume } }', undefined, token);
      expect(room.log[2]!.json).toEqual({ operation: 'decrement' });
    });
  });

  test.each([
    [429, true],
    [409, true],
    [429, false],
  ])('a throttled read (%i, Retry-After sent: %s) is retried and succeeds', async (status, withRetryAfter) => {
    const { data } = await login('room-1', 'GENERAL', '');
    room.throttleStatus = status as 429 | 409;
    room.throttleRetryAfter = withRetryAfter;
    room.inject({ throttle: true, times: 1, match: (r) => r.path === '/api/v1/audio' });
    const res = await gw.gql(AUDIO, { id: 'room-1' }, data!.loginNureva.token);
    expect(res.errors).toBeUndefined();
    room.throttleStatus = 429;
    room.throttleRetryAfter = true;
  });

  test('two devices, one down: the other answers, the down one says UPSTREAM_UNAVAILABLE within the timeout', async () => {
    const spare = await startNureva();
    const g = await startGateway(nurevaEnv([{ id: 'up', sim: room }, { id: 'down', sim: spare }], { UPSTREAM_TIMEOUT_MS: '3000' }));
    gateways.push(g);
    const a = await g.gql(LOGIN, { d: 'up', a: 'GENERAL', p: '' });
    const token = a.data!.loginNureva.token as string;
    await g.gql(LOGIN, { d: 'down', a: 'GENERAL', p: '' }, token);
    await spare.stop();
    const started = Date.now();
    const res = await g.gql('{ devices { id audio { speakerVolume } } }', undefined, token);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.data!.devices[0]).toEqual({ id: 'up', audio: { speakerVolume: expect.any(Number) } });
    expect(res.data!.devices[1]).toEqual({ id: 'down', audio: null });
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.path).toEqual(['devices', 1, 'audio']);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', vendor: 'NUREVA' });
  });

  test('the simulator answers 400 without the client headers, as the device does', async () => {
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const res = await request(`${room.url}/api/v1`, { dispatcher });
      expect(res.statusCode).toBe(400);
      expect(await res.body.json()).toEqual({ errors: [{ message: 'RESTApi: Nureva-Client-Id is missing' }] });
    } finally {
      await dispatcher.close();
    }
  });
});
