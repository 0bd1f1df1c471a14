import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEXUDUS_TEST_HOSTS, startNexudus } from '../../simulators/nexudus/demo.js';
import { NexudusSimulator } from '../../simulators/nexudus/simulator.js';

/** Raw requests as one caller (the simulator tells callers apart by X-Forwarded-For when anonymous). */
function raw(url: string, caller: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, redirect: 'manual', headers: { 'x-forwarded-for': caller, ...(init.headers as Record<string, string>) } });
}

function formPost(url: string, caller: string, form: Record<string, string>): Promise<Response> {
  return raw(url, caller, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

/** The Nexudus simulator itself, against its documents (the client's tests are in test/datasources/nexudus/). */
describe('Nexudus simulator', () => {
  let sim: NexudusSimulator;
  beforeAll(async () => {
    sim = await startNexudus();
  });
  afterAll(() => sim.stop());

  test('the simulator refuses a JSON token request, as Nexudus does', async () => {
    const res = await fetch(`${sim.url}/api/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username: 'a', password: 'b' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'unsupported_grant_type' });
  });

  test('the simulator throttles as documented: a second call within 100 ms gets 409, the reason phrase, Retry-After: 1, an empty body', async () => {
    const url = `${sim.spaceUrl}/en/user/exists?email=member%40coworking.example`;
    // Both at once, so a slow machine cannot space them 100 ms apart.
    const answers = await Promise.all([raw(url, 'raw-pacing'), raw(url, 'raw-pacing')]);
    const [a, b] = sim.log.filter((r) => r.headers['x-forwarded-for'] === 'raw-pacing').map((r) => r.time);
    expect(b! - a!).toBeLessThan(100);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const second = answers.find((r) => r.status === 409)!;
    expect(second.statusText).toBe('You must wait before accessing this url again.');
    expect(second.headers.get('retry-after')).toBe('1');
    expect(await second.text()).toBe('');
  });

  test('the simulator also enforces 5000 calls an hour and 60 writes a minute per caller (configurable)', async () => {
    expect(new NexudusSimulator().limits).toEqual({ minIntervalMs: 100, perMinute: 120, perHour: 5000, writesPerMinute: 60 });
    const small = new NexudusSimulator({ hosts: NEXUDUS_TEST_HOSTS, limits: { minIntervalMs: 0, writesPerMinute: 2, perHour: 4 } });
    await small.start();
    try {
      const post = () => formPost(`${small.apiUrl}/api/token`, 'w', { grant_type: 'password', username: 'member@coworking.example', password: 'demo-member-1' });
      const get = (caller = 'w') => raw(`${small.spaceUrl}/en/user/exists?email=a%40b.co`, caller);
      expect([(await post()).status, (await post()).status]).toEqual([200, 200]);
      const third = await post();
      expect([third.status, third.headers.get('retry-after')]).toEqual([409, '1']);
      // Reads are not writes, until the hour's budget is spent.
      expect([(await get()).status, (await get()).status, (await get()).status]).toEqual([200, 200, 409]);
      expect((await get('another')).status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  test("the simulator takes the docs' `Authentication` header as well as `Authorization`", async () => {
    const grant = (await (await formPost(`${sim.apiUrl}/api/token`, 'raw-auth', { grant_type: 'password', username: 'editor@coworking.example', password: 'demo-editor-1' })).json()) as { access_token: string };
    const me = `${sim.spaceUrl}/en/user/me`;
    expect((await raw(me, 'raw-auth', { headers: { authentication: `Bearer ${grant.access_token}` } })).status).toBe(200);
    await sleep(110);
    expect((await raw(me, 'raw-auth', { headers: { authorization: `Bearer ${grant.access_token}` } })).status).toBe(200);
    expect((await raw(me, 'raw-auth', { headers: { authentication: `Basic ${Buffer.from('editor@coworking.example:demo-editor-1').toString('base64')}` } })).status).toBe(200);
    expect((await raw(me, 'raw-auth')).status).toBe(401);
  });
});
