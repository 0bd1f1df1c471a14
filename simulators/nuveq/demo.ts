import type { DemoOptions, DemoVendor } from '../../src/vendors/module.js';
import { NUVEQ_DEMO_USER_IDS, NuveqSimulator, type NuveqSimOptions } from './simulator.js';

/** The gateway's NUVEQ_* variables for a running simulator. */
export function nuveqEnv(sim: NuveqSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { NUVEQ_URL: `${sim.url}${sim.path}`, NUVEQ_TOKEN_KEY: sim.tokenKey, NUVEQ_API_ID: String(sim.apiId), NUVEQ_PORT: sim.userDetailPort, ...extra };
}

/** A started simulator (tests). */
export async function startNuveq(options?: NuveqSimOptions): Promise<NuveqSimulator> {
  const sim = new NuveqSimulator(options);
  await sim.start();
  return sim;
}

export async function startNuveqDemo(options: DemoOptions & { logLimit?: number }): Promise<DemoVendor & { simulator: NuveqSimulator }> {
  const sim = await startNuveq({ latencyMs: options.latencyMs, logLimit: options.logLimit });
  return {
    env: nuveqEnv(sim),
    logins: `  Nuveq users        nuveqUser(s): ids ${NUVEQ_DEMO_USER_IDS.first}-${NUVEQ_DEMO_USER_IDS.last} (every fifth id is unknown), with any session`,
    simulator: sim,
    stop: () => sim.stop(),
  };
}
