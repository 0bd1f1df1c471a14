import { startNuveqDemo } from '../simulators/nuveq/demo.js';
import { startPlatformDemo } from '../simulators/platform/demo.js';

/**
 * The bench's vendor simulators, in a process of their own, and one JSON line: the gateway's
 * environment for them, and their control URLs (`/__sim/stats`).
 *
 *   node dist/bench/simulators.js --latency 0 --platform-rate 300 --platform-token-seconds 3600
 */

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const latencyMs = flag('latency', 0);
  const logLimit = 5000;
  const nuveq = await startNuveqDemo({ latencyMs, logLimit });
  const platform = await startPlatformDemo({ latencyMs, logLimit, uniqueEmails: false, rateLimit: flag('platform-rate', 300), tokenLifetimeSeconds: flag('platform-token-seconds', 3600) });
  const sim = nuveq.simulator;
  process.stdout.write(
    `${JSON.stringify({ env: { ...nuveq.env, ...platform.env }, control: { nuveq: sim.url, platform: platform.simulator.url }, nuveq: { port: sim.userDetailPort, apiId: sim.apiId, tokenKey: sim.tokenKey } })}\n`,
  );
  const stop = () => void Promise.all([nuveq.stop(), platform.stop()]).then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`simulators failed: ${String(error)}\n`);
  process.exit(1);
});
