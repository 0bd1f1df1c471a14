import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as undiciModule from 'undici';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import { startNureva } from '../../simulators/nureva/demo.js';

const PASSWORDS = { monitor: 'monitor-pass-1', integrator: 'integrator-pass-1', admin: 'ABC-DEF-GHJ' };

/** A Nureva device simulator itself, against the documents (the client's tests are in test/datasources/nureva/). */
describe('Nureva simulator', () => {
  let room: NurevaSimulator;
  beforeAll(async () => {
    room = await startNureva({ accounts: { monitor: { enabled: true, password: PASSWORDS.monitor }, integrator: { enabled: true, password: PASSWORDS.integrator } }, enrollmentCode: PASSWORDS.admin });
  });
  afterAll(() => room.stop());

  describe('the simulator follows the docs', () => {
    const { Agent, request } = undiciModule;
    let agent: InstanceType<typeof Agent>;
    const clientHeaders = { 'nureva-client-id': 'test', 'nureva-client-version': '1' };
    beforeAll(() => {
      agent = new Agent({ connect: { ca: room.certificate } });
    });
    afterAll(() => agent.close());

    async function call(method: string, path: string, init: { headers?: Record<string, string>; json?: unknown } = {}) {
      const res = await request(`${room.url}${path}`, {
        dispatcher: agent,
        method: method as 'GET',
        headers: { ...init.headers, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      });
      return { status: res.statusCode, body: (await res.body.json()) as unknown };
    }
    async function authorization(account: string, password: string) {
      const { body } = await call('POST', '/api/v1/auth/login', { headers: clientHeaders, json: { account, password } });
      return `Nureva ${(body as { authParameters: string }).authParameters}`;
    }

    test('unknown paths and wrong methods: the client headers first, then the errors envelope', async () => {
      expect(await call('GET', '/api/v2/nothing')).toEqual({ status: 400, body: { errors: [{ message: 'RESTApi: Nureva-Client-Id is missing' }] } });
      expect(await call('DELETE', '/api/v1/audio')).toEqual({ status: 400, body: { errors: [{ message: 'RESTApi: Nureva-Client-Id is missing' }] } });
      expect(await call('GET', '/api/v2/nothing', { headers: clientHeaders })).toEqual({ status: 404, body: { errors: [{ message: 'Not found' }] } });
      expect(await call('DELETE', '/api/v1/audio', { headers: clientHeaders })).toEqual({ status: 405, body: { errors: [{ message: 'Method not allowed' }] } });
    });

    test('PATCH checks value types; only speakerVolume is read-only (the docs name no other)', async () => {
      const headers = { ...clientHeaders, authorization: await authorization('general', '') };
      const before = room.audio;
      try {
        expect(await call('PATCH', '/api/v1/audio', { headers, json: { microphoneMute: 'yes' } })).toEqual({ status: 400, body: { errors: [{ message: 'microphoneMute must be a boolean' }] } });
        expect((await call('PATCH', '/api/v1/audio', { headers, json: { echoReductionLevel: 3 } })).status).toBe(400);
        expect((await call('PATCH', '/api/v1/audio', { headers, json: { microphoneGain: '3' } })).status).toBe(400);
        expect(room.audio).toEqual(before);
        expect(await call('PATCH', '/api/v1/audio', { headers, json: { speakerVolume: 60 } })).toEqual({ status: 400, body: { errors: [{ message: 'Unsupported Attributes: speakerVolume.' }] } });
        const ok = await call('PATCH', '/api/v1/audio', { headers, json: { auxiliaryOutputState: 'On', microphonePickupState: 'Inactive' } });
        expect(ok.status).toBe(200);
        expect(ok.body).toMatchObject({ auxiliaryOutputState: 'On', microphonePickupState: 'Inactive' });
      } finally {
        room.audio = before;
      }
    });

    test('hardware: enrollmentCode is empty unless the caller is admin', async () => {
      const codes: Record<string, unknown> = {};
      for (const [account, password] of [['monitor', PASSWORDS.monitor], ['general', ''], ['integrator', PASSWORDS.integrator], ['admin', PASSWORDS.admin]] as const) {
        const { status, body } = await call('GET', '/api/v1/audio/hardware', { headers: { ...clientHeaders, authorization: await authorization(account, password) } });
        expect(status).toBe(200);
        codes[account] = (body as { enrollmentCode?: unknown }).enrollmentCode;
      }
      expect(codes).toEqual({ monitor: '', general: '', integrator: '', admin: PASSWORDS.admin });
    });
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

/** The device's event streams (vendor facts, "Streams"), read with a plain HTTPS client. */
describe('Nureva simulator: streams', () => {
  const { Agent, request } = undiciModule;
  const clientHeaders = { 'nureva-client-id': 'test', 'nureva-client-version': '1' };
  let room: NurevaSimulator;
  let agent: InstanceType<typeof Agent>;
  beforeAll(async () => {
    room = await startNureva({ accounts: { monitor: { enabled: true, password: PASSWORDS.monitor } }, heartbeatMs: 200, soundLocationMs: 50, metricsMs: 100 });
    agent = new Agent({ connect: { ca: room.certificate } });
  });
  afterAll(async () => {
    await agent.close();
    await room.stop();
  });

  async function login(account: string, password: string): Promise<string> {
    const res = await request(`${room.url}/api/v1/auth/login`, { dispatcher: agent, method: 'POST', headers: { ...clientHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ account, password }) });
    return `Nureva ${((await res.body.json()) as { authParameters: string }).authParameters}`;
  }

  /** Reads a stream for `ms` and returns its status, content type and text. */
  async function read(path: string, ms: number, headers: Record<string, string> = {}): Promise<{ status: number; type: unknown; text: string }> {
    const controller = new AbortController();
    const res = await request(`${room.url}${path}`, { dispatcher: agent, headers: { ...clientHeaders, ...headers }, signal: controller.signal });
    let text = '';
    const timer = setTimeout(() => controller.abort(), ms);
    try {
      for await (const chunk of res.body) text += String(chunk);
    } catch {
      // aborted: the stream was read for long enough
    }
    clearTimeout(timer);
    return { status: res.statusCode, type: res.headers['content-type'], text };
  }

  test('heartbeat: no login, `event: heartbeat` / `data: .` / `retry` on the documented rhythm', async () => {
    const r = await read('/api/v1/heartbeat', 700);
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/event-stream');
    expect(r.text.match(/event: heartbeat\ndata: \.\nretry: 200\n\n/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test('data: monitor or higher; sound location and metrics as documented; `events=` filters by type', async () => {
    const monitor = await login('monitor', PASSWORDS.monitor);
    const all = await read('/api/v1/data', 400, { authorization: monitor });
    expect(all.text).toMatch(/event: soundLocation\ndata: \{"powerLevel":\d+,"time":"[^"]+","coordinates":\{"x":-?\d+,"y":-?\d+\},"triggeredZones":\[.*\],"version":3,"flags":\{/);
    expect(all.text).toMatch(/event: deviceMetrics\ndata: \{"backgroundNoise":\d+\}/);
    const metricsOnly = await read('/api/v1/data?events=deviceMetrics', 400, { authorization: monitor });
    expect(metricsOnly.text).toContain('deviceMetrics');
    expect(metricsOnly.text).not.toContain('soundLocation');
  });

  test('a missing or stale token gets 401 before any event; events need general or higher', async () => {
    expect((await read('/api/v1/data', 200)).status).toBe(401);
    expect((await read('/api/v1/events', 200, { authorization: 'Nureva stale' })).status).toBe(401);
    const monitor = await login('monitor', PASSWORDS.monitor);
    expect((await read('/api/v1/events', 200, { authorization: monitor })).status).toBe(403);
  });

  test('events: named by path or label, the body the endpoint would return (the admin’s with its code)', async () => {
    const admin = await login('admin', 'ABC-DEF-GHJ');
    const reading = read('/api/v1/events', 500, { authorization: admin });
    await new Promise((r) => setTimeout(r, 200));
    room.pullCable();
    room.streams.emit('usbConnection', () => ({ connected: true }));
    const r = await reading;
    expect(r.text).toMatch(/event: \/api\/v1\/audio\/hardware\ndata: \{[^\n]*"deviceStatus":"CableUnplugged"[^\n]*"enrollmentCode":"ABC-DEF-GHJ"\}/);
    expect(r.text).toContain('event: usbConnection\ndata: {"connected":true}');
    room.pullCable(false);
  });

  test('stream requests have their own limit a minute (60 by default; lowered here), apart from the other calls', async () => {
    room.streamRateLimit = room.log.filter((r) => /^\/api\/v1\/(heartbeat|data|events)$/.test(r.path)).length + 1;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await read('/api/v1/heartbeat', 30)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(room.refusedStreams).toBeGreaterThan(0);
    // The 600 a minute of the other calls are untouched.
    const res = await request(`${room.url}/api/v1`, { dispatcher: agent, headers: clientHeaders });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
