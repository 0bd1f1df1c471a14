import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Fault, SimReply, Simulator } from '../../../simulators/server.js';
import type { NexudusSimulator } from '../../../simulators/nexudus/simulator.js';
import type { NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { nexudusEnv, startNexudus } from '../../../simulators/nexudus/demo.js';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';

/**
 * Text from a vendor reaches a client only where it explains the client's own input (a validation
 * error). Every other answer a vendor can garble (not JSON, the wrong shape, an unknown code, an
 * error envelope on any status) is answered with a fixed message, in production as anywhere; the
 * operator's log keeps what the vendor said, redacted and cut short.
 */
const MARKER = 'MARKER-7f3a9c';
const LONG = `${MARKER} ${'z'.repeat(2000)}`;

/** Malformed answers of every kind, each carrying the marker. */
function garbled(envelope: (message: string) => unknown): Array<[string, SimReply]> {
  return [
    ['HTML with 200', { status: 200, text: `<html><body>${MARKER}</body></html>`, headers: { 'content-type': 'text/html' } }],
    ['text with 500', { status: 500, text: LONG }],
    ['text with 418', { status: 418, text: MARKER }],
    ['JSON of the wrong shape', { status: 200, json: { data: MARKER, Value: MARKER, errors: MARKER } }],
    ['a bare JSON string', { status: 200, json: MARKER }],
    ['the error envelope with 403', { status: 403, json: envelope(MARKER) }],
    ['the error envelope with 404', { status: 404, json: envelope(MARKER) }],
    ['the error envelope with 409', { status: 409, json: envelope(MARKER) }],
    ['the error envelope with 500', { status: 500, json: envelope(LONG) }],
    ['the error envelope with 502', { status: 502, json: envelope(MARKER) }],
  ];
}

interface Case {
  vendor: string;
  sim: () => Simulator;
  gw: () => TestGateway;
  match: Fault['match'];
  run: (gw: TestGateway) => Promise<unknown>;
}

async function answersWithout(c: Case, name: string, reply: SimReply): Promise<void> {
  c.sim().clearFaults();
  c.sim().inject({ match: c.match, reply });
  try {
    const body = JSON.stringify(await c.run(c.gw()));
    expect([c.vendor, name, body.includes(MARKER)]).toEqual([c.vendor, name, false]);
    // An answer the gateway cannot use is an error with a code; one it need not read (a 200 to a
    // write whose body Platform does not document) is a success.
    expect(body).toMatch(/"code":"[A-Z_]+"|"data":\{"[a-zA-Z]+":\{/);
  } finally {
    c.sim().clearFaults();
  }
}

/** Every log line that mentions the marker holds it only as a vendor answer cut to 300 characters. */
function expectLogsKeepItShort(gw: TestGateway): void {
  const lines = gw.logs.entries().filter((l) => JSON.stringify(l).includes(MARKER));
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const { vendorAnswer, ...rest } = line as { vendorAnswer?: string };
    expect(JSON.stringify(rest)).not.toContain(MARKER);
    expect(String(vendorAnswer).length).toBeLessThanOrEqual(301);
  }
}

describe('vendor text in production', () => {
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let nexudus: NexudusSimulator;
  let room: NurevaSimulator;
  const gws: Record<string, TestGateway> = {};
  const tokens: Record<string, string> = {};
  const prod = { NODE_ENV: 'production', LOG_LEVEL: 'debug' };

  beforeAll(async () => {
    [nuveq, platform, nexudus, room] = await Promise.all([startNuveq(), startPlatform(), startNexudus({ enforceLimits: false }), startNureva()]);
    gws.nuveq = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), ...prod });
    gws.platform = await startGateway({ ...platformEnv(platform), ...prod });
    gws.nexudus = await startGateway({ ...nexudusEnv(nexudus), ...prod });
    gws.nureva = await startGateway({ ...nurevaEnv([{ id: 'room-1', sim: room }]), ...prod });
    tokens.platform = (await gws.platform.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }')).data!.loginClient.token;
    tokens.nexudus = (await gws.nexudus.gql('mutation { loginNexudus(email: "admin@coworking.example", password: "demo-admin-1") { token } }')).data!.loginNexudus.token;
    tokens.nureva = (await gws.nureva.gql('mutation { loginNureva(deviceId: "room-1", account: GENERAL, password: "") { token } }')).data!.loginNureva.token;
  });
  afterAll(async () => {
    await Promise.all(Object.values(gws).map((g) => g.close()));
    await Promise.all([nuveq.stop(), platform.stop(), nexudus.stop(), room.stop()]);
  });

  const platformEnvelope = (m: string) => ({ errors: [{ id: 'x', code: 'errors.unheard-of', title: m, detail: m }] });
  const nexudusEnvelope = (m: string) => ({ Status: 500, Message: m, Value: null, Errors: null, WasSuccessful: false });
  const nurevaEnvelope = (m: string) => ({ errors: [{ message: m }] });
  const nuveqEnvelope = (m: string) => ({ error: m });

  const cases: Case[] = [
    { vendor: 'NUVEQ', sim: () => nuveq, gw: () => gws.nuveq!, match: undefined, run: (g) => g.gql('{ nuveqUser(userId: "1001") { name } }') },
    {
      vendor: 'PLATFORM',
      sim: () => platform,
      gw: () => gws.platform!,
      match: (r) => r.path.startsWith('/v1/client/'),
      run: (g) => g.gql('mutation { updateClientAccount(input: { firstName: "Ada" }) { name } }', undefined, tokens.platform),
    },
    {
      vendor: 'PLATFORM',
      sim: () => platform,
      gw: () => gws.platform!,
      match: (r) => r.path === '/v1/client/login',
      run: (g) => g.gql('mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token } }'),
    },
    { vendor: 'NEXUDUS', sim: () => nexudus, gw: () => gws.nexudus!, match: (r) => r.path.startsWith('/api/sys/'), run: (g) => g.gql('mutation { impersonateNexudusUser(userId: "303914613") { token } }', undefined, tokens.nexudus) },
    { vendor: 'NEXUDUS', sim: () => nexudus, gw: () => gws.nexudus!, match: (r) => r.path === '/en/user/exists', run: (g) => g.gql('{ nexudusUserExists(email: "a@b.co") }') },
    { vendor: 'NEXUDUS', sim: () => nexudus, gw: () => gws.nexudus!, match: (r) => r.path === '/api/token', run: (g) => g.gql('mutation { loginNexudus(email: "member@coworking.example", password: "demo-member-1") { token } }') },
    { vendor: 'NUREVA', sim: () => room, gw: () => gws.nureva!, match: (r) => r.path === '/api/v1/audio', run: (g) => g.gql('{ device(id: "room-1") { audio { speakerVolume } } }', undefined, tokens.nureva) },
    {
      vendor: 'NUREVA',
      sim: () => room,
      gw: () => gws.nureva!,
      match: (r) => r.method === 'PATCH',
      run: (g) => g.gql('mutation { updateDeviceAudio(deviceId: "room-1", input: { microphoneGain: 2 }) { microphoneGain } }', undefined, tokens.nureva),
    },
  ];
  const envelopes: Record<string, (m: string) => unknown> = { NUVEQ: nuveqEnvelope, PLATFORM: platformEnvelope, NEXUDUS: nexudusEnvelope, NUREVA: nurevaEnvelope };

  test.each(cases.map((c, i) => [`${c.vendor} #${i}`, c] as const))('%s: no garbled answer puts vendor text in the response', async (_name, c) => {
    for (const [name, reply] of garbled(envelopes[c.vendor]!)) await answersWithout(c, name, reply);
  });

  test('Nuveq: a message in the assumed envelope that is neither a user nor an error we know stays out too', async () => {
    for (const status of [200, 400]) {
      await answersWithout(cases[0]!, `{"error"} with ${status}`, { status, json: { error: `Something odd: ${MARKER}` } });
    }
  });

  test('the operator\'s log has what each vendor said, redacted and cut to 300 characters', () => {
    for (const gw of Object.values(gws)) expectLogsKeepItShort(gw);
  });

  test('a validation error still explains the client\'s input in the vendor\'s words', async () => {
    platform.inject({ times: 1, match: (r) => r.path === '/v1/client/signup', reply: { status: 400, json: { errors: [{ code: 'errors.validation.field.value', title: 'Name too fancy', source: { pointer: '/name/last_name' } }] } } });
    const res = await gws.platform!.gql('mutation { signupClient(input: { email: "f@example.com", firstName: "F", lastName: "Fancy", password: "pw-123456" }) { token } }');
    expect(res.errors?.[0]?.message).toBe('lastName: Name too fancy');
  });
});
