import { NuveqSimulator } from '../datasources/nuveq/simulator.js';
import { PlatformSimulator } from '../datasources/platform/simulator.js';
import type { Simulator } from './simulator.js';

/**
 * Runs vendor simulators in a process of their own (benchmarks, manual experiments) and prints one
 * JSON line: the gateway's environment for them, and their control URLs (`/__sim/stats`).
 *
 *   node dist/src/simulate.js --latency 0 --platform-rate 300 --platform-token-seconds 3600
 */

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const latencyMs = flag('latency', 0);
  const logLimit = 5000;
  const nuveq = new NuveqSimulator({ latencyMs, logLimit });
  const platform = new PlatformSimulator({ latencyMs, logLimit, rateLimit: flag('platform-rate', 300), tokenLifetimeSeconds: flag('platform-token-seconds', 3600) });
  const sims: Simulator[] = [nuveq, platform];
  await Promise.all(sims.map((s) => s.start()));
  const env = {
    NUVEQ_URL: `${nuveq.url}${nuveq.path}`,
    NUVEQ_TOKEN_KEY: nuveq.tokenKey,
    NUVEQ_API_ID: String(nuveq.apiId),
    NUVEQ_PORT: nuveq.userDetailPort,
    PLATFORM_URL: platform.url,
    PLATFORM_SERVICE_USERNAME: platform.serviceUser.username,
    PLATFORM_SERVICE_PASSWORD: platform.serviceUser.password,
  };
  process.stdout.write(`${JSON.stringify({ env, control: { nuveq: nuveq.url, platform: platform.url }, nuveq: { port: nuveq.userDetailPort, apiId: nuveq.apiId, tokenKey: nuveq.tokenKey } })}\n`);
  const stop = () => void Promise.all(sims.map((s) => s.stop())).then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulators failed: ${String(error)}\n`);
  process.exit(1);
});
