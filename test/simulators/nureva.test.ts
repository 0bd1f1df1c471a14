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
