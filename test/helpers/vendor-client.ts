import { buildServices } from '../../src/app/services.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import type { UpstreamResponse } from '../../src/upstream/client.js';
import type { VendorModule } from '../../src/vendors/module.js';
import { LogCollector, TEST_SECRET } from './gateway.js';

/**
 * A vendor's process-wide client, built as the gateway builds it from these variables, without a
 * server: for unit tests of its error mapping, fed with answers the vendor gives.
 */
export function clientFor<T>(module: VendorModule, env: Record<string, string>): { client: T; logs: LogCollector } {
  const config = loadConfig({ SESSION_SECRET: TEST_SECRET, DEMO: 'false', ...env }, { vendors: [module] });
  const logs = new LogCollector();
  const logger = createLogger({ level: 'debug', secrets: new SecretRegistry(), destination: logs });
  const services = buildServices({ config, modules: [module], logger });
  return { client: services.vendors.get(module.key)!.client as T, logs };
}

/** A recorded vendor answer. */
export function answer(status: number, body: unknown = '', headers: Record<string, string> = {}): UpstreamResponse {
  return { status, headers, text: typeof body === 'string' ? body : JSON.stringify(body) };
}
