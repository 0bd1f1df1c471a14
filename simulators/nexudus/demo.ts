import type { DemoOptions, DemoVendor } from '../../src/vendors/module.js';
import { DEMO_NEXUDUS_USERS, NexudusSimulator, type NexudusSimOptions } from './simulator.js';

/** The API host and the members portal: different URLs when the simulator was given `hosts`. */
export function nexudusEnv(sim: NexudusSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { NEXUDUS_URL: sim.apiUrl, NEXUDUS_SPACE_URL: sim.spaceUrl, ...extra };
}

/**
 * Both names resolve to the one simulator, which tells them apart by Host, so a test sees which
 * host each call went to and a call on the wrong one fails (404).
 */
export const NEXUDUS_TEST_HOSTS = { api: '127.0.0.1', portal: 'localhost' };

/** A started simulator with the two hosts apart (tests). */
export async function startNexudus(options?: NexudusSimOptions): Promise<NexudusSimulator> {
  const sim = new NexudusSimulator({ hosts: NEXUDUS_TEST_HOSTS, ...options });
  await sim.start();
  return sim;
}

export async function startNexudusDemo(options: DemoOptions): Promise<DemoVendor & { simulator: NexudusSimulator }> {
  const sim = new NexudusSimulator({ latencyMs: options.latencyMs });
  await sim.start();
  const users = DEMO_NEXUDUS_USERS.map((u) => `${u.email} / ${u.password}${u.roles.length ? ` (${u.roles.join(', ')})` : ''}${u.totp ? ` totp ${u.totp}` : ''}`);
  return { env: nexudusEnv(sim), logins: `  Nexudus members    loginNexudus: ${users.join(', ')}`, simulator: sim, stop: () => sim.stop() };
}
