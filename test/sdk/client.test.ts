import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createSwitchboardClient, errorCode, SUBSCRIPTION_NAMES, type SwitchboardClient } from '../../sdk/src/index.js';
import { startDemo, type Demo } from '../../simulators/demo.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ROOT } from '../helpers/process.js';

describe('the generated SDK against a real server', () => {
  let demo: Demo;
  let gw: TestGateway;
  let sb: SwitchboardClient;

  beforeAll(async () => {
    demo = await startDemo();
    gw = await startGateway(demo.env);
    sb = createSwitchboardClient(`${gw.url}/graphql`);
  });
  afterAll(async () => {
    await gw.close();
    await demo.stop();
  });

  test('a login sets the token; later logins attach to the same session and refresh it', async () => {
    expect(sb.token).toBeUndefined();
    const login = await sb.LoginClient({ email: 'ada@example.com', password: 'demo-ada-1' });
    expect(sb.token).toBe(login.loginClient.token);
    const nexudus = await sb.LoginNexudus({ email: 'admin@coworking.example', password: 'demo-admin-1' });
    expect(nexudus.loginNexudus.session.id).toBe(login.loginClient.session.id);
    expect(sb.token).toBe(nexudus.loginNexudus.token);
    const { session } = await sb.Session();
    expect(session?.logins.map((l) => l.vendor)).toEqual(['PLATFORM', 'NEXUDUS']);
    expect(session?.clientAccount?.email).toBe('ada@example.com');
    expect(session?.nexudusUser?.isAdmin).toBe(true);
  });

  test('every operation of the contract runs through the SDK', async () => {
    const signup = await sb.SignupClient({ input: { email: `sdk-${Date.now()}@example.com`, firstName: 'Sdk', lastName: 'User', password: 'sdk-password-1' } });
    expect(signup.signupClient.session.clientAccount?.firstName).toBe('Sdk');
    expect((await sb.UpdateClientAccount({ input: { lastName: 'Tester' } })).updateClientAccount.name).toBe('Sdk Tester');
    await sb.LoginNexudus({ email: 'admin@coworking.example', password: 'demo-admin-1' });
    expect((await sb.NexudusMe()).nexudusMe?.email).toBe('admin@coworking.example');
    expect((await sb.NexudusUserExists({ email: 'member@coworking.example' })).nexudusUserExists).toBe(true);
    expect((await sb.ImpersonateNexudusUser({ userId: '303914613' })).impersonateNexudusUser.loginUrl).toContain('/en/user/login?t=');
    expect((await sb.NuveqUser({ userId: '1001' })).nuveqUser?.userId).toBe('1001');
    expect((await sb.NuveqUsers({ userIds: ['1001', '1005'] })).nuveqUsers.map((u) => u?.userId ?? null)).toEqual(['1001', null]);
    expect((await sb.Devices()).devices.map((d) => d.id)).toEqual(['room-101', 'boardroom', 'huddle-3']);
    await sb.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
    expect((await sb.Device({ id: 'room-101' })).device?.audio?.speakerVolume).toEqual(expect.any(Number));
    expect((await sb.UpdateDeviceAudio({ deviceId: 'room-101', input: { microphoneGain: 2 } })).updateDeviceAudio.microphoneGain).toBe(2);
    expect((await sb.ChangeDeviceVolume({ deviceId: 'room-101', direction: 'DOWN' })).changeDeviceVolume.speakerVolume).toEqual(expect.any(Number));
    expect((await sb.DeleteClientAccount({ reason: 'sdk test' })).deleteClientAccount).toBe(true);
    expect((await sb.Logout()).logout).toBe(true);
    expect(sb.token).toBeUndefined();
    expect((await sb.Session()).session).toBeNull();
  });

  test('every subscription runs through the SDK as a typed iterator; one the gateway ends throws with its code', async () => {
    const live = createSwitchboardClient(`${gw.url}/graphql`, { webSocketImpl: WebSocket });
    await live.LoginNureva({ deviceId: 'room-101', account: 'MONITOR', password: 'monitor-demo' });
    const connection = live.DeviceConnection({ deviceId: 'room-101' });
    expect((await connection.next()).value).toMatchObject({ deviceConnection: { deviceId: 'room-101', online: true } });
    const sound = live.DeviceSoundLocation({ deviceId: 'room-101' });
    expect((await sound.next()).value?.deviceSoundLocation.deviceId).toBe('room-101');
    const metrics = live.DeviceMetrics({ deviceId: 'room-101' });
    expect((await metrics.next()).value?.deviceMetrics.backgroundNoise).toEqual(expect.any(Number));
    await Promise.all([connection.return!(), sound.return!(), metrics.return!()]);
    // MONITOR may not read the event stream.
    const refused = await live.DeviceEvents({ deviceId: 'room-101' }).next().catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('FORBIDDEN');
    await live.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
    const events = live.DeviceEvents({ deviceId: 'room-101' });
    const next = events.next();
    await new Promise((r) => setTimeout(r, 300));
    const room = demo.sim<Map<string, NurevaSimulator>>('nureva').get('room-101')!;
    room.pullCable();
    expect((await next).value?.deviceEvents).toMatchObject({ source: '/api/v1/audio/hardware', hardware: { deviceStatus: 'CableUnplugged' } });
    room.pullCable(false);
    await live.Logout();
    const ended = await events.next().then(() => events.next()).catch((e: unknown) => e);
    expect(errorCode(ended)).toBe('UNAUTHENTICATED');
    await live.close();
  });

  test('a new token takes new subscriptions to a new socket (as its session); open ones keep going', async () => {
    const live = createSwitchboardClient(`${gw.url}/graphql`, { webSocketImpl: WebSocket });
    await live.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
    const sound = live.DeviceSoundLocation({ deviceId: 'room-101' });
    expect((await sound.next()).value?.deviceSoundLocation.deviceId).toBe('room-101');
    // Another session, with no login for room-101: its subscriptions must not ride on the first socket.
    const other = await gw.gql<{ loginNureva: { token: string } }>('mutation { loginNureva(deviceId: "huddle-3", account: GENERAL, password: "") { token } }');
    live.setToken(other.data!.loginNureva.token);
    const refused = await live.DeviceEvents({ deviceId: 'room-101' }).next().catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('UNAUTHENTICATED');
    // The first session's subscription still runs on its own socket.
    expect((await sound.next()).value?.deviceSoundLocation.deviceId).toBe('room-101');
    await live.close();
  });

  test('the SDK has a method for every subscription in sdk/operations', () => {
    const dir = join(ROOT, 'sdk', 'operations');
    const all = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    const declared = [...new Set([...all.matchAll(/subscription (\w+)/g)].map((m) => m[1]))].sort();
    expect([...SUBSCRIPTION_NAMES].sort()).toEqual(declared);
  });

  test('errors keep their code', async () => {
    const anonymous = createSwitchboardClient(`${gw.url}/graphql`);
    const error = await anonymous.NuveqUser({ userId: '1001' }).catch((e: unknown) => e);
    expect(errorCode(error)).toBe('UNAUTHENTICATED');
  });

  test('withErrors answers partial data beside the errors, keeps the token, and throws only for what is not GraphQL', async () => {
    const client = createSwitchboardClient(`${gw.url}/graphql`);
    const login = await client.withErrors.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
    expect(login.errors).toEqual([]);
    expect(client.token).toBe(login.data?.loginNureva.token);
    // No login for the boardroom: its name and url come back, its audio is an error beside them.
    const partial = await client.withErrors.Device({ id: 'boardroom' });
    expect(partial.data?.device).toMatchObject({ id: 'boardroom', name: expect.any(String), audio: null });
    expect(partial.errors.map((e) => [e.path?.join('.'), e.extensions?.code])).toContainEqual(['device.audio', 'UNAUTHENTICATED']);
    await expect(client.Device({ id: 'boardroom' })).rejects.toThrow();
    // A refused login is data too, and does not replace the token.
    const refused = await client.withErrors.LoginNexudus({ email: 'admin@coworking.example', password: 'wrong' });
    expect(refused.data).toBeNull();
    expect(refused.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(client.token).toBe(login.data?.loginNureva.token);
    // A document the server rejects (HTTP 400) is an error answer, not a throw.
    const invalid = await client.execute(parse('query { nope }') as TypedDocumentNode<unknown, Record<string, never>>);
    expect(invalid).toMatchObject({ data: null, errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect((await client.withErrors.Logout()).data?.logout).toBe(true);
    expect(client.token).toBeUndefined();
    // Nothing listening is not a GraphQL answer: it throws.
    await expect(createSwitchboardClient('http://127.0.0.1:1/graphql').withErrors.Session()).rejects.toThrow();
  });
});
