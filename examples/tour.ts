import WebSocket from 'ws';
import { createSwitchboardClient, errorCode } from '../sdk/src/index.js';

/**
 * `npm run example`: a tour of Switchboard through the typed SDK, against the demo. It uses the
 * demo at SWITCHBOARD_URL (default http://127.0.0.1:4000) if one is running, or starts its own.
 */

export async function tour(endpoint: string, print: (line: string) => void = console.log): Promise<void> {
  // Subscriptions go over a WebSocket: Node 20 has no global one, so the `ws` package is passed.
  const sb = createSwitchboardClient(endpoint, { webSocketImpl: WebSocket });
  const step = (n: number, what: string, result: string) => print(`${String(n).padStart(2)}. ${what.padEnd(34)} ${result}`);

  const email = `tour-${Date.now()}@example.com`;
  const signup = await sb.SignupClient({ input: { email, firstName: 'Tour', lastName: 'Guide', password: 'tour-password-1', phoneNumber: '+27821234567' } });
  const account = signup.signupClient.session.clientAccount!;
  step(1, 'signupClient (Platform)', `client ${account.userId} (${account.email}); session ${signup.signupClient.session.id}`);

  const nexudus = await sb.LoginNexudus({ email: 'admin@coworking.example', password: 'demo-admin-1' });
  step(2, 'loginNexudus (attached)', `${nexudus.loginNexudus.session.nexudusUser?.name} (admin: ${nexudus.loginNexudus.session.nexudusUser?.isAdmin})`);

  const nureva = await sb.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
  step(3, 'loginNureva room-101 GENERAL', `${nureva.loginNureva.session.logins.length} logins in the session now`);

  const { session } = await sb.Session();
  step(4, 'session', (session?.logins ?? []).map((l) => `${l.vendor}:${l.subject}`).join(', '));

  const users = await sb.NuveqUsers({ userIds: ['1001', '1002', '1005', '1001'] });
  step(5, 'nuveqUsers 1001,1002,1005,1001', users.nuveqUsers.map((u) => (u ? `${u.name} (${u.department?.name})` : 'null')).join('; '));

  const device = await sb.Device({ id: 'room-101' });
  step(6, 'device room-101 audio', `volume ${device.device?.audio?.speakerVolume}, gain ${device.device?.audio?.microphoneGain}, ${device.device?.hardware?.model}`);

  const louder = await sb.ChangeDeviceVolume({ deviceId: 'room-101', direction: 'UP' });
  step(7, 'changeDeviceVolume UP', `volume ${device.device?.audio?.speakerVolume} -> ${louder.changeDeviceVolume.speakerVolume}`);

  const connection = sb.DeviceConnection({ deviceId: 'room-101' });
  const state = (await connection.next()).value?.deviceConnection;
  await connection.return();
  const heard: string[] = [];
  for await (const { deviceSoundLocation: s } of sb.DeviceSoundLocation({ deviceId: 'room-101' })) {
    heard.push(`(${s.x}, ${s.y}) power ${s.powerLevel}${s.voiceDetected ? ' voice' : ''}`);
    if (heard.length === 3) break;
  }
  step(8, 'live room-101 (subscriptions)', `${state?.online ? 'online' : 'offline'}; heard at ${heard.join('; ')}`);

  const imp = await sb.ImpersonateNexudusUser({ userId: '303914613' });
  step(9, 'impersonateNexudusUser 303914613', `portal login (once, until ${imp.impersonateNexudusUser.expiresAt}):`);
  print(`      ${imp.impersonateNexudusUser.loginUrl}`);

  const out = await sb.Logout();
  const after = await sb.Session();
  step(10, 'logout', `${out.logout}; session afterwards: ${after.session === null ? 'null' : 'still there?!'}`);
  await sb.close();
}

async function isDemo(base: string): Promise<boolean> {
  try {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { demo?: boolean }).demo === true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const base = (process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000').replace(/\/(graphql)?$/, '');
  if (await isDemo(base)) {
    console.log(`Using the demo at ${base}\n`);
    await tour(`${base}/graphql`);
    return;
  }
  console.log(`No demo at ${base}: starting one in this process.\n`);
  const [{ startDemo, demoEnvironment }, { loadConfig }, { createGateway }] = await Promise.all([import('../simulators/demo.js'), import('../src/config/load.js'), import('../src/app/gateway.js')]);
  const demo = await startDemo();
  // Configured as `npm start` configures the demo, from this environment.
  const config = loadConfig(demoEnvironment({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }, demo).env, { demoVendors: true });
  const gateway = await createGateway({ config, onClose: demo.stop });
  const url = await gateway.listen(0, '127.0.0.1');
  try {
    await tour(`${url}/graphql`);
  } finally {
    await gateway.close();
  }
}

if (process.argv[1] && import.meta.url === new URL(process.argv[1], 'file://').href) {
  main().catch((error: unknown) => {
    console.error(`The tour failed: ${errorCode(error) ?? ''} ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
