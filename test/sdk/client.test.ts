import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createSwitchboardClient, errorCode, SUBSCRIPTION_NAMES, type SwitchboardClient } from '../../sdk/index.js';
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

  test('the SDK is importable from the package, with types (exports "./sdk")', () => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'pipe' });
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "const m = await import('switchboard/sdk'); console.log(typeof m.createSwitchboardClient, typeof m.LoginClientDocument)"], { cwd: ROOT }).toString();
    expect(out.trim()).toBe('function object');
    const pkg = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json").exports)'], { cwd: ROOT }).toString()) as Record<string, { types: string; import: string }>;
    expect(pkg['./sdk']).toEqual({ types: './dist/sdk/index.d.ts', import: './dist/sdk/index.js' });
    execFileSync(process.execPath, ['-e', "require('fs').accessSync('dist/sdk/index.d.ts')"], { cwd: ROOT });
  }, 120_000);
});
