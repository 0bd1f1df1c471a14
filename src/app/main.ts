import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { demoEnvironment, startDemo, type Demo } from '../../simulators/demo.js';
import { createGateway, type Gateway } from './gateway.js';

/** Process entry: configuration once, the demo if asked for, the server, and clean shutdown. */

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function configure(env: NodeJS.ProcessEnv, demoVendors = false): Config {
  try {
    return loadConfig(env, { demoVendors });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** A real login through the gateway's own API (a demo vendor's), so the explorer opens with a working session. */
async function demoToken(gateway: Gateway, document: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: document }) });
    const body = (await res.json()) as { data?: Record<string, { token?: string } | null> };
    return Object.values(body.data ?? {})[0]?.token;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config = configure(process.env);
  let demo: Demo | undefined;
  if (config.demo) {
    demo = await startDemo({ latencyMs: config.demoLatencyMs });
    const { env, ignored } = demoEnvironment(process.env, demo);
    config = configure(env, true);
    if (ignored.length) process.stderr.write(`DEMO=true: ignoring ${ignored.join(', ')}\n`);
  }
  const gateway = await createGateway({ config, onClose: demo?.stop });
  const url = await gateway.listen();
  const explorer = config.production ? '(disabled in production)' : `${url}/`;
  gateway.services.logger.info({ url: `${url}/graphql`, demo: config.demo, vendors: [...gateway.services.vendors.keys()] }, 'Switchboard listening');
  const lines = [`Switchboard${config.demo ? ' (demo mode)' : ''} is listening.`, `  Explorer:  ${explorer}`, `  GraphQL:   ${url}/graphql`];
  if (demo) {
    const ready = demo.readySession;
    const token = ready ? await demoToken(gateway, ready.document) : undefined;
    gateway.setDemo({ token, logins: demo.logins });
    lines.push('', demo.logins, '', token ? `A ready session (${ready!.who}) for the explorer's Authorization header:\n  Authorization: Bearer ${token}` : 'Could not prepare a demo session.');
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    gateway.services.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    gateway
      .close()
      .then(() => {
        gateway.services.logger.flush?.();
        process.exit(0);
      })
      .catch((error: unknown) => {
        gateway.services.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Switchboard failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
