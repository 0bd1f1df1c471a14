import { DEMO_NEXUDUS_USERS, NexudusSimulator } from '../datasources/nexudus/simulator.js';
import { NurevaSimulator } from '../datasources/nureva/simulator.js';
import { NUVEQ_DEMO_USER_IDS, NuveqSimulator } from '../datasources/nuveq/simulator.js';
import { DEMO_PLATFORM_CLIENTS, PlatformSimulator } from '../datasources/platform/simulator.js';
import { randomSecret } from './secrets.js';

/**
 * Demo mode: every vendor as a simulator on loopback, seeded, and the environment variables that
 * wire the gateway to them. The gateway then validates that environment like any other, so the
 * demo runs the same code paths as production.
 */

export const DEMO_ROOMS = [
  { id: 'room-101', name: 'Room 101 (HDL410)', model: 'hdl410' as const },
  { id: 'boardroom', name: 'Boardroom (HDL410)', model: 'hdl410' as const },
  { id: 'huddle-3', name: 'Huddle 3 (HDL310, older firmware)', model: 'hdl310' as const },
];
export const DEMO_NUREVA_PASSWORDS = { monitor: 'monitor-demo', integrator: 'integrator-demo', admin: 'ABC-DEF-GHJ' };

export interface DemoSimulators {
  nuveq: NuveqSimulator;
  nexudus: NexudusSimulator;
  platform: PlatformSimulator;
  nureva: Map<string, NurevaSimulator>;
}

export interface Demo {
  sims: DemoSimulators;
  /** Vendor variables pointing at the simulators. */
  env: Record<string, string>;
  logins: string;
  stop(): Promise<void>;
}

const VENDOR_PREFIXES = ['NUVEQ_', 'NUREVA_', 'NEXUDUS_', 'PLATFORM_'];

/**
 * The gateway's environment for a running demo: the operator's, without any vendor variable (the
 * simulators replace the vendors entirely), with the simulators' and DEMO=true. `ignored` names
 * the vendor variables left out, so the operator can be told.
 */
export function demoEnvironment(base: NodeJS.ProcessEnv, demo: Demo): { env: NodeJS.ProcessEnv; ignored: string[] } {
  const ignored = Object.keys(base).filter((k) => VENDOR_PREFIXES.some((p) => k.startsWith(p)) && base[k]?.trim());
  const env: NodeJS.ProcessEnv = { ...base, DEMO: 'true' };
  for (const name of ignored) delete env[name];
  Object.assign(env, demo.env);
  env.SESSION_SECRET ||= randomSecret();
  return { env, ignored };
}

export async function startDemo(options: { latencyMs?: number } = {}): Promise<Demo> {
  const latencyMs = options.latencyMs ?? 0;
  const nuveq = new NuveqSimulator({ latencyMs });
  const nexudus = new NexudusSimulator({ latencyMs });
  const platform = new PlatformSimulator({ latencyMs, uniqueEmails: true });
  const nureva = new Map<string, NurevaSimulator>();
  await Promise.all([nuveq.start(), nexudus.start(), platform.start()]);
  const devices = [];
  for (const room of DEMO_ROOMS) {
    const sim = await NurevaSimulator.create({
      latencyMs,
      model: room.model,
      enrollmentCode: DEMO_NUREVA_PASSWORDS.admin,
      accounts: {
        monitor: { enabled: true, password: DEMO_NUREVA_PASSWORDS.monitor },
        integrator: { enabled: true, password: DEMO_NUREVA_PASSWORDS.integrator },
      },
      supportedFields:
        room.model === 'hdl310'
          ? ['microphoneMute', 'audienceMute', 'microphoneGain', 'speakerVolume', 'speakerTrebleLevel', 'speakerBassLevel', 'echoReductionLevel', 'noiseReductionLevel']
          : undefined,
    });
    await sim.start();
    nureva.set(room.id, sim);
    devices.push({ id: room.id, name: room.name, url: sim.url, fingerprint256: sim.fingerprint256 });
  }
  const env: Record<string, string> = {
    NUVEQ_URL: `${nuveq.url}${nuveq.path}`,
    NUVEQ_TOKEN_KEY: nuveq.tokenKey,
    NUVEQ_API_ID: String(nuveq.apiId),
    NUVEQ_PORT: nuveq.userDetailPort,
    NEXUDUS_URL: nexudus.url,
    NEXUDUS_SPACE_URL: nexudus.url,
    PLATFORM_URL: platform.url,
    PLATFORM_SERVICE_USERNAME: platform.serviceUser.username,
    PLATFORM_SERVICE_PASSWORD: platform.serviceUser.password,
    NUREVA_DEVICES: JSON.stringify(devices),
  };
  const logins = [
    'Demo logins (all vendors are simulators on loopback):',
    `  Platform clients   loginClient: ${DEMO_PLATFORM_CLIENTS.map((c) => `${c.email} / ${c.password}`).join(', ')}`,
    `  Nexudus members    loginNexudus: ${DEMO_NEXUDUS_USERS.map((u) => `${u.email} / ${u.password}${u.roles.length ? ` (${u.roles.join(', ')})` : ''}${u.totp ? ` totp ${u.totp}` : ''}`).join(', ')}`,
    `  Nureva devices     loginNureva: ${DEMO_ROOMS.map((r) => r.id).join(', ')}; accounts GENERAL (password ""), MONITOR / ${DEMO_NUREVA_PASSWORDS.monitor}, INTEGRATOR / ${DEMO_NUREVA_PASSWORDS.integrator}, ADMIN / ${DEMO_NUREVA_PASSWORDS.admin}`,
    `  Nuveq users        nuveqUser(s): ids ${NUVEQ_DEMO_USER_IDS.first}-${NUVEQ_DEMO_USER_IDS.last} (every fifth id is unknown), with any session`,
  ].join('\n');
  return {
    sims: { nuveq, nexudus, platform, nureva },
    env,
    logins,
    async stop() {
      await Promise.all([nuveq.stop(), nexudus.stop(), platform.stop(), ...[...nureva.values()].map((s) => s.stop())]);
    },
  };
}
