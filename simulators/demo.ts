import { randomSecret } from '../src/auth/keys.js';
import type { DemoVendor, VendorModule } from '../src/vendors/module.js';
import { VENDORS } from '../src/vendors/registry.js';

/**
 * Demo mode: every vendor of the registry as simulators on loopback, seeded, and the environment
 * variables that wire the gateway to them. The gateway then validates that environment like any
 * other, so the demo runs the same code paths as production.
 */

export interface Demo {
  /** Vendor variables pointing at the simulators. */
  env: Record<string, string>;
  /** The demo logins, one line per vendor, to print. */
  logins: string;
  /** A vendor's simulator(s), by module key (tests reach into the demo). */
  sim<T>(key: string): T;
  /** The first vendor's login that gives a ready session, if any has one. */
  readySession?: { document: string; who: string };
  stop(): Promise<void>;
}

/**
 * The gateway's environment for a running demo: the operator's, without any vendor variable (the
 * simulators replace the vendors entirely), with the simulators' and DEMO=true. `ignored` names
 * the vendor variables left out, so the operator can be told.
 */
export function demoEnvironment(base: NodeJS.ProcessEnv, demo: Demo, vendors: readonly VendorModule[] = VENDORS): { env: NodeJS.ProcessEnv; ignored: string[] } {
  const ignored = Object.keys(base).filter((k) => vendors.some((m) => k.startsWith(m.prefix)) && base[k]?.trim());
  const env: NodeJS.ProcessEnv = { ...base, DEMO: 'true' };
  for (const name of ignored) delete env[name];
  Object.assign(env, demo.env);
  env.SESSION_SECRET ||= randomSecret();
  return { env, ignored };
}

/** Starts every vendor's demo part (those that have one), side by side. */
export async function startDemo(options: { latencyMs?: number; vendors?: readonly VendorModule[] } = {}): Promise<Demo> {
  const modules = (options.vendors ?? VENDORS).filter((m) => m.demo);
  // One after the other: each loads its simulators on demand (a dynamic import), and Jest's ESM
  // loader mixes up concurrent ones.
  const parts: DemoVendor[] = [];
  for (const m of modules) parts.push(await m.demo!({ latencyMs: options.latencyMs ?? 0 }));
  const byKey = new Map(modules.map((m, i) => [m.key, parts[i]!]));
  return {
    env: Object.assign({}, ...parts.map((p) => p.env)) as Record<string, string>,
    logins: ['Demo logins (all vendors are simulators on loopback):', ...parts.map((p) => p.logins)].join('\n'),
    readySession: parts.find((p) => p.readySession)?.readySession,
    sim<T>(key: string): T {
      const part = byKey.get(key);
      if (!part) throw new Error(`no demo part for ${key}`);
      return part.simulator as T;
    },
    async stop() {
      await Promise.all(parts.map((p) => p.stop()));
    },
  };
}
