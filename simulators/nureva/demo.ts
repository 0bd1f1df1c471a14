import type { DemoOptions, DemoVendor } from '../../src/vendors/module.js';
import { NurevaSimulator, type NurevaSimOptions } from './simulator.js';

export const DEMO_ROOMS = [
  { id: 'room-101', name: 'Room 101 (HDL410)', model: 'hdl410' as const },
  { id: 'boardroom', name: 'Boardroom (HDL410)', model: 'hdl410' as const },
  { id: 'huddle-3', name: 'Huddle 3 (HDL310, older firmware)', model: 'hdl310' as const },
];
export const DEMO_NUREVA_PASSWORDS = { monitor: 'monitor-demo', integrator: 'integrator-demo', admin: 'ABC-DEF-GHJ' };

/** The gateway's NUREVA_DEVICES for running device simulators (pinned by their certificates). */
export function nurevaEnv(devices: Array<{ id: string; sim: NurevaSimulator; fingerprint256?: string; name?: string }>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NUREVA_DEVICES: JSON.stringify(
      devices.map((d) => ({ id: d.id, name: d.name ?? d.id, url: d.sim.url, ...(d.sim.url.startsWith('https') ? { fingerprint256: d.fingerprint256 ?? d.sim.fingerprint256 } : {}) })),
    ),
    ...extra,
  };
}

/** A started device simulator (tests). */
export async function startNureva(options?: NurevaSimOptions): Promise<NurevaSimulator> {
  const sim = await NurevaSimulator.create(options);
  await sim.start();
  return sim;
}

/** Three rooms, their accounts enabled with the demo passwords; the older huddle bar with fewer settings. */
export async function startNurevaDemo(options: DemoOptions): Promise<DemoVendor & { simulator: Map<string, NurevaSimulator> }> {
  const rooms = new Map<string, NurevaSimulator>();
  for (const room of DEMO_ROOMS) {
    const sim = await startNureva({
      latencyMs: options.latencyMs,
      model: room.model,
      enrollmentCode: DEMO_NUREVA_PASSWORDS.admin,
      accounts: { monitor: { enabled: true, password: DEMO_NUREVA_PASSWORDS.monitor }, integrator: { enabled: true, password: DEMO_NUREVA_PASSWORDS.integrator } },
      supportedFields:
        room.model === 'hdl310'
          ? ['microphoneMute', 'audienceMute', 'microphoneGain', 'speakerVolume', 'speakerTrebleLevel', 'speakerBassLevel', 'echoReductionLevel', 'noiseReductionLevel']
          : undefined,
    });
    rooms.set(room.id, sim);
  }
  const { admin, monitor, integrator } = DEMO_NUREVA_PASSWORDS;
  const life = roomLife(rooms.get('room-101')!);
  return {
    env: nurevaEnv(DEMO_ROOMS.map((r) => ({ id: r.id, name: r.name, sim: rooms.get(r.id)! }))),
    logins: `  Nureva devices     loginNureva: ${DEMO_ROOMS.map((r) => r.id).join(', ')}; accounts GENERAL (password ""), MONITOR / ${monitor}, INTEGRATOR / ${integrator}, ADMIN / ${admin}`,
    simulator: rooms,
    stop: async () => {
      life.stop();
      await Promise.all([...rooms.values()].map((s) => s.stop()));
    },
  };
}

/**
 * Something to watch on the event stream: every 45 s someone trips over room-101's speaker cable
 * (plugged back 10 s later), and its LEDs change state every 20 s.
 */
function roomLife(room: NurevaSimulator): { stop(): void } {
  let led = false;
  const timers = [
    setInterval(() => {
      room.pullCable(true);
      timers.push(setTimeout(() => room.pullCable(false), 10_000).unref());
    }, 45_000),
    setInterval(() => {
      led = !led;
      room.streams.emit('ledStateUpdated', () => ({ state: led ? 'Active' : 'Idle' }));
    }, 20_000),
  ];
  for (const t of timers) t.unref();
  return { stop: () => timers.forEach((t) => clearTimeout(t)) };
}
