import type { DemoOptions, DemoVendor } from '../../src/vendors/module.js';
import { DEMO_PLATFORM_CLIENTS, PlatformSimulator, type PlatformSimOptions } from './simulator.js';

/** The gateway's PLATFORM_* variables for a running simulator. */
export function platformEnv(sim: PlatformSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { PLATFORM_URL: sim.url, PLATFORM_SERVICE_USERNAME: sim.serviceUser.username, PLATFORM_SERVICE_PASSWORD: sim.serviceUser.password, ...extra };
}

/** A started simulator (tests). */
export async function startPlatform(options?: PlatformSimOptions): Promise<PlatformSimulator> {
  const sim = new PlatformSimulator(options);
  await sim.start();
  return sim;
}

export async function startPlatformDemo(options: DemoOptions & Partial<PlatformSimOptions>): Promise<DemoVendor & { simulator: PlatformSimulator }> {
  // The demo assumes unique emails, as most platforms enforce: a second signup of one address is a conflict.
  const sim = await startPlatform({ uniqueEmails: true, ...options });
  return {
    env: platformEnv(sim),
    logins: `  Platform clients   loginClient: ${DEMO_PLATFORM_CLIENTS.map((c) => `${c.email} / ${c.password}`).join(', ')}`,
    simulator: sim,
    readySession: { document: `mutation { loginClient(email: "${DEMO_PLATFORM_CLIENTS[0]!.email}", password: "${DEMO_PLATFORM_CLIENTS[0]!.password}") { token } }`, who: `Platform client ${DEMO_PLATFORM_CLIENTS[0]!.email}` },
    stop: () => sim.stop(),
  };
}
