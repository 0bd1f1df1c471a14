import type { NurevaConfig } from '../../../datasources/nureva/config.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { NurevaSimOptions, NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import * as undiciModule from 'undici';
import { loadConfig } from '../../../src/config/load.js';
import { createGateway } from '../../../src/app/gateway.js';
import { expectNoSecrets, gql, LogCollector, startGateway, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';

const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token session { logins { vendor subject deviceId account } } } }';
const AUDIO = 'query($id: ID!) { device(id: $id) { id audio { speakerVolume microphoneGain echoReductionLevel } } }';
const PASSWORDS = { monitor: 'monitor-pass-1', integrator: 'integrator-pass-1', admin: 'ABC-DEF-GHJ' };

/**
 * Every scenario runs against each reading of what the device documents leave open (the throttle's
 * status and Retry-After, the status below an account's rights, a 401's body): the plainest
 * first, then one assumption changed at a time.
 */
const VARIANTS: Array<[string, NurevaSimOptions]> = [
  ['as documented', {}],
  ['a 409 throttle (one guide)', { throttleStatus: 409 }],
  ['a throttle that sends Retry-After', { throttleRetryAfter: true }],
  ['below its rights an account gets 401', { belowRightsStatus: 401 }],
  ['a 401 without a body', { unauthorizedBody: 'empty' }],
];

describe.each(VARIANTS)('Nureva slice (%s)', (_variant, variant) => {
  /** A device of this variant. */
  const startDevice = (options: NurevaSimOptions = {}) => startNureva({ ...variant, ...options });
  /** What the gateway can say of a refusal below the device's rights: a 401 reads as a stale login. */
  const belowRights = variant.belowRightsStatus === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN';
  let room: NurevaSimulator;
  let huddle: NurevaSimulator;
  let gw: TestGateway;
  const gateways: TestGateway[] = [];
  const sessionTokens: string[] = [];

  beforeAll(async () => {
    const accounts = { monitor: { enabled: true, password: PASSWORDS.monitor }, integrator: { enabled: true, password: PASSWORDS.integrator } };
    room = await startDevice({ accounts, enrollmentCode: PASSWORDS.admin });
    huddle = await startDevice({ accounts, supportedFields: ['microphoneMute', 'microphoneGain', 'speakerVolume', 'speakerTrebleLevel', 'speakerBassLevel'] });
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
    let canary6: Server | undefined;
    let connections = 0;
    let connections6 = 0;
    let port = 0;
    let port6 = 0;
    beforeAll(async () => {
      canary = createServer((s) => {
        connections++;
        s.destroy();
      });
      await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
      port = (canary.address() as { port: number }).port;
      // `localhost` may resolve to ::1 first: a canary there too, on the same port when it is free.
      const v6 = createServer((s) => {
        connections6++;
        s.destroy();
      });
      for (const p of [port, 0]) {
        const ok = await new Promise<boolean>((r) => {
          v6.once('error', () => r(false));
          v6.listen(p, '::1', () => r(true));
        });
        if (ok) {
          canary6 = v6;
          port6 = (v6.address() as { port: number }).port;
          break;
        }
      }
    });
    afterAll(async () => {
      await new Promise<void>((r) => canary.close(() => r()));
      if (canary6) await new Promise<void>((r) => canary6!.close(() => r()));
    });

    test('unknown device ids (IP literals, localhost, metadata addresses) give NOT_FOUND and no connection', async () => {
      const ids = [`127.0.0.1:${port}`, `localhost:${port}`, `http://127.0.0.1:${port}`, `https://localhost:${port}/api/v1/auth/login`, '169.254.169.254', '[::1]', `127.0.0.1`, 'room-1/../../etc', 'ROOM-1'];
      if (canary6) ids.push(`[::1]:${port6}`, `localhost:${port6}`, `::1:${port6}`, `https://[::1]:${port6}`);
      ids.push('169.254.169.254:80', 'http://169.254.169.254/latest/meta-data/');
      for (const id of ids) {
        const res = await login(id, 'GENERAL', '');
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', vendor: 'NUREVA' });
        const write = await gw.gql('mutation($d: ID!) { updateDeviceAudio(deviceId: $d, input: { microphoneMute: true }) { microphoneMute } }', { d: id });
        expect(write.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect((await gw.gql('query($d: ID!) { device(id: $d) { id audio { speakerVolume } } }', { d: id })).data).toEqual({ device: null });
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(connections).toBe(0);
      expect(connections6).toBe(0);
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
    const pinned = await startGateway(nurevaEnv([{ id: 'room-1', sim: room, fingerprint256: wrong }, { id: 'room-right', sim: room }]));
    gateways.push(pinned);
    room.resetLog();
    const res = await pinned.gql(LOGIN, { d: 'room-1', a: 'ADMIN', p: PASSWORDS.admin });
    expect(res.errors?.[0]?.extensions?.code).toMatch(/^UPSTREAM_/);
    expect(res.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(res.errors?.[0]?.extensions?.vendor).toBe('NUREVA');
    expect(room.requests).toBe(0);
    // Control: the same device and gateway, pinned to the right fingerprint, is reached.
    const right = await pinned.gql(LOGIN, { d: 'room-right', a: 'ADMIN', p: PASSWORDS.admin });
    expect(right.errors).toBeUndefined();
    expect(room.count((r) => r.path === '/api/v1/auth/login')).toBe(1);
  });

  test('a registry CA is checked like a fingerprint; insecureTls is explicit and logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-nureva-'));
    const { selfSignedCertificate } = await import('../../../simulators/nureva/simulator.js');
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
    const defaults = await startDevice();
    const g = await startGateway(nurevaEnv([{ id: 'factory', sim: defaults }]));
    gateways.push(g);
    try {
      expect((await g.gql(LOGIN, { d: 'factory', a: 'MONITOR', p: '' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await g.gql(LOGIN, { d: 'factory', a: 'INTEGRATOR', p: '' })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await g.gql(LOGIN, { d: 'factory', a: 'GENERAL', p: '' })).errors).toBeUndefined();
      expect(defaults.logins).toBe(1);
    } finally {
      await defaults.stop();
    }
  });

  test.each([400, 403])('a login the device answers %i is UNAUTHENTICATED (the docs do not say which status)', async (status) => {
    room.inject({ times: 1, match: (r) => r.path === '/api/v1/auth/login', reply: { status, json: { errors: [{ message: 'Account disabled' }] } } });
    const res = await login('room-1', 'INTEGRATOR', PASSWORDS.integrator);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NUREVA' });
    expect(res.errors?.[0]?.message).toMatch(/refused this account and password/);
  });

  test("the device's documented 400 for missing client headers is the gateway's fault, not a wrong password", async () => {
    room.inject({ times: 1, match: (r) => r.path === '/api/v1/auth/login', reply: { status: 400, json: { errors: [{ message: 'RESTApi: Nureva-Client-Id is missing' }] } } });
    const res = await login('room-1', 'INTEGRATOR', PASSWORDS.integrator);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUREVA' });
    expect(gw.logs.entries().some((e) => e.level === 50 && String(e.msg).includes('NUREVA_CLIENT_ID'))).toBe(true);
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

  test('when the re-login after a 401 is refused too: exactly one re-login, then UNAUTHENTICATED', async () => {
    const { data } = await login('room-1', 'GENERAL', '');
    const token = data!.loginNureva.token as string;
    room.rotateTokens();
    room.resetLog();
    room.inject({ match: (r) => r.path === '/api/v1/auth/login', reply: { status: 401, json: { errors: [{ message: 'Invalid account or password' }] } } });
    const res = await gw.gql(AUDIO, { id: 'room-1' }, token);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vendor: 'NUREVA' });
    expect(res.data!.device.audio).toBeNull();
    expect(room.count((r) => r.path === '/api/v1/auth/login')).toBe(1);
    expect(room.count((r) => r.path === '/api/v1/audio')).toBe(1);
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
      // The device's words go to the operator's log; the client gets a fixed message.
      expect(res.errors?.[0]?.message).toBe('This device account may not do that');
      expect(gw.logs.text).toContain('Policy forbids audio changes');
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
      ['speakerTrebleLevel: -1', 'speakerTrebleLevel'],
      ['speakerBassLevel: 101', 'speakerBassLevel'],
      ['voiceAmplificationLevel: -1', 'voiceAmplificationLevel'],
    ])('out-of-range input (%s) is BAD_USER_INPUT with zero calls', async (input, field) => {
      const { data } = await login('room-1', 'GENERAL', '');
      room.resetLog();
      const res = await gw.gql(`mutation { updateDeviceAudio(deviceId: "room-1", input: { ${input} }) { microphoneGain } }`, undefined, data!.loginNureva.token);
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(room.requests).toBe(0);
    });

    test.each([
      ['microphoneGain', -6],
      ['microphoneGain', 12],
      ['speakerTrebleLevel', 0],
      ['speakerTrebleLevel', 100],
      ['speakerBassLevel', 0],
      ['speakerBassLevel', 100],
      ['voiceAmplificationLevel', 0],
      ['voiceAmplificationLevel', 40],
    ])('the boundary %s: %i reaches the device', async (field, value) => {
      const { data } = await login('room-1', 'GENERAL', '');
      room.resetLog();
      const res = await gw.gql(`mutation { updateDeviceAudio(deviceId: "room-1", input: { ${field}: ${value} }) { microphoneGain } }`, undefined, data!.loginNureva.token);
      expect(res.errors).toBeUndefined();
      expect(room.log.filter((r) => r.method === 'PATCH').map((r) => r.json)).toEqual([{ [field]: value }]);
      expect(room.audio[field as 'microphoneGain']).toBe(value);
    });

    test("below the device's own rights table its 403 is FORBIDDEN, whatever the gateway believed", async () => {
      // The gateway lets GENERAL write; this device wants INTEGRATOR for a PATCH.
      const strict = await startDevice({ rights: { 'PATCH /api/v1/audio': 'integrator' } });
      const g = await startGateway(nurevaEnv([{ id: 'strict', sim: strict }]));
      gateways.push(g);
      try {
        const { data } = await g.gql(LOGIN, { d: 'strict', a: 'GENERAL', p: '' });
        strict.resetLog();
        const res = await g.gql('mutation { updateDeviceAudio(deviceId: "strict", input: { microphoneMute: true }) { microphoneMute } }', undefined, data!.loginNureva.token);
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: belowRights, vendor: 'NUREVA' });
        // A 401 reads as a stale login: one re-login and one more try, never a loop.
        expect(strict.log.map((r) => `${r.method} ${r.path}`)).toEqual(
          variant.belowRightsStatus === 401 ? ['PATCH /api/v1/audio', 'POST /api/v1/auth/login', 'PATCH /api/v1/audio'] : ['PATCH /api/v1/audio'],
        );
        expect(strict.audio.microphoneMute).toBe(false);
        // The volume change keeps the default right (GENERAL) on the same device.
        const vol = await g.gql('mutation { changeDeviceVolume(deviceId: "strict", direction: UP) { speakerVolume } }', undefined, data!.loginNureva.token);
        expect(vol.errors).toBeUndefined();
      } finally {
        await strict.stop();
      }
    });

    test('the volume stays within 0..100 at both ends', async () => {
      const { data } = await login('room-1', 'GENERAL', '');
      const token = data!.loginNureva.token as string;
      room.audio = { ...room.audio, speakerVolume: 98 };
      const up = await gw.gql('mutation { changeDeviceVolume(deviceId: "room-1", direction: UP) { speakerVolume } }', undefined, token);
      expect(up.data!.changeDeviceVolume.speakerVolume).toBe(100);
      room.audio = { ...room.audio, speakerVolume: 2 };
      const down = await gw.gql('mutation { changeDeviceVolume(deviceId: "room-1", direction: DOWN) { speakerVolume } }', undefined, token);
      expect(down.data!.changeDeviceVolume.speakerVolume).toBe(0);
      room.audio = { ...room.audio, speakerVolume: 50 };
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
    room.throttleStatus = variant.throttleStatus ?? 429;
    room.throttleRetryAfter = variant.throttleRetryAfter ?? false;
  });

  test('two devices, one down: the other answers, the down one says UPSTREAM_UNAVAILABLE within the timeout', async () => {
    const spare = await startDevice();
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

  test('a device that accepts TCP but never finishes TLS fails a login and a read within the upstream timeout; the other device answers', async () => {
    // A loopback relay to the simulator that can switch to accepting and then saying nothing.
    let hold = false;
    const held = new Set<Socket>();
    const relay = createServer((client) => {
      held.add(client);
      client.on('close', () => held.delete(client));
      client.on('error', () => undefined);
      if (hold) return;
      const upstream = connect(Number(new URL(room.url).port), '127.0.0.1');
      held.add(upstream);
      upstream.on('close', () => held.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(relay.address() as { port: number }).port}`;
    const devices = [
      { id: 'up', name: 'Up', url: huddle.url, fingerprint256: huddle.fingerprint256 },
      { id: 'mute', name: 'Mute', url, fingerprint256: room.fingerprint256 },
    ];
    const g = await startGateway({ NUREVA_DEVICES: JSON.stringify(devices), UPSTREAM_TIMEOUT_MS: '1500' });
    gateways.push(g);
    try {
      const a = await g.gql(LOGIN, { d: 'up', a: 'GENERAL', p: '' });
      const token = a.data!.loginNureva.token as string;
      expect((await g.gql(LOGIN, { d: 'mute', a: 'GENERAL', p: '' }, token)).errors).toBeUndefined();
      hold = true;
      for (const socket of held) socket.destroy();
      await new Promise((r) => setTimeout(r, 50));

      let started = Date.now();
      const res = await g.gql('{ devices { id audio { speakerVolume } } }', undefined, token);
      expect(Date.now() - started).toBeLessThan(2300);
      expect(res.data!.devices).toEqual([
        { id: 'up', audio: { speakerVolume: expect.any(Number) } },
        { id: 'mute', audio: null },
      ]);
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0]!.path).toEqual(['devices', 1, 'audio']);
      expect(res.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', vendor: 'NUREVA' });

      started = Date.now();
      const other = await g.gql(LOGIN, { d: 'mute', a: 'ADMIN', p: PASSWORDS.admin });
      expect(Date.now() - started).toBeLessThan(2300);
      expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', vendor: 'NUREVA' });
      expect(held.size).toBeGreaterThan(0);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });

  test('an empty CA never turns certificate checks off: nothing is sent to an unverified device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-nureva-'));
    writeFileSync(join(dir, 'room-ca.pem'), room.certificate);
    // Built as configuration, not through the environment, which may refuse an empty CA file.
    const config = loadConfig({
      SESSION_SECRET: TEST_SECRET,
      DEMO: 'false',
      NUREVA_DEVICES: JSON.stringify([
        { id: 'empty-ca', name: 'Empty CA', url: room.url, ca: join(dir, 'room-ca.pem') },
        { id: 'empty-ca-insecure', name: 'Empty CA, insecure', url: room.url, ca: join(dir, 'room-ca.pem'), insecureTls: true },
      ]),
    });
    for (const device of (config.vendors.nureva as NurevaConfig).devices) device.ca = '';
    const logs = new LogCollector();
    const gateway = await createGateway({ config, logDestination: logs });
    const url = await gateway.listen(0, '127.0.0.1');
    try {
      room.resetLog();
      for (const d of ['empty-ca', 'empty-ca-insecure']) {
        const res = await gql(url, LOGIN, { d, a: 'ADMIN', p: PASSWORDS.admin });
        expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', vendor: 'NUREVA' });
      }
      expect(room.requests).toBe(0);
      expectNoSecrets(logs.text, [PASSWORDS.admin]);
    } finally {
      await gateway.close();
    }
  });
});
