import { loadConfig, type Config } from '../../src/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/server.js';
import { DEMO_ROOMS } from '../../src/demo.js';
import { NexudusSimulator, type NexudusSimOptions } from '../../datasources/nexudus/simulator.js';
import { NurevaSimulator, type NurevaSimOptions } from '../../datasources/nureva/simulator.js';
import { NuveqSimulator, type NuveqSimOptions } from '../../datasources/nuveq/simulator.js';
import { PlatformSimulator, type PlatformSimOptions } from '../../datasources/platform/simulator.js';

export const TEST_SECRET = 'test-session-secret-0123456789-abcdefghij';

/** Collects the gateway's log lines (pino JSON), so tests can read them and scan them for secrets. */
export class LogCollector {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  headers: Headers;
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  config: Config;
  logs: LogCollector;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult<T>>;
  close(): Promise<void>;
}

/** Posts one GraphQL operation over real HTTP. */
export async function gql<T = Record<string, any>>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T | null; errors?: GraphQLResult['errors'] };
  return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
}

/** Starts the real gateway on an ephemeral loopback port with this environment. */
export async function startGateway(env: Record<string, string | undefined>, options: Partial<GatewayOptions> = {}): Promise<TestGateway> {
  const config = loadConfig({ SESSION_SECRET: TEST_SECRET, DEMO: 'false', LOG_LEVEL: 'debug', ...env });
  const logs = new LogCollector();
  const gateway = await createGateway({ config, logDestination: logs, ...options });
  const url = await gateway.listen(0, '127.0.0.1');
  return {
    gateway,
    url,
    config,
    logs,
    gql: (query, variables, token) => gql(url, query, variables, token),
    close: () => gateway.close(),
  };
}

export function nuveqEnv(sim: NuveqSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { NUVEQ_URL: `${sim.url}${sim.path}`, NUVEQ_TOKEN_KEY: sim.tokenKey, NUVEQ_API_ID: String(sim.apiId), NUVEQ_PORT: sim.userDetailPort, ...extra };
}

export function platformEnv(sim: PlatformSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { PLATFORM_URL: sim.url, PLATFORM_SERVICE_USERNAME: sim.serviceUser.username, PLATFORM_SERVICE_PASSWORD: sim.serviceUser.password, ...extra };
}

/** The API host and the members portal: different URLs when the simulator was given `hosts`. */
export function nexudusEnv(sim: NexudusSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return { NEXUDUS_URL: sim.apiUrl, NEXUDUS_SPACE_URL: sim.spaceUrl, ...extra };
}

export function nurevaEnv(devices: Array<{ id: string; sim: NurevaSimulator; fingerprint256?: string; name?: string }>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NUREVA_DEVICES: JSON.stringify(
      devices.map((d) => ({ id: d.id, name: d.name ?? d.id, url: d.sim.url, ...(d.sim.url.startsWith('https') ? { fingerprint256: d.fingerprint256 ?? d.sim.fingerprint256 } : {}) })),
    ),
    ...extra,
  };
}

export async function startNuveq(options?: NuveqSimOptions): Promise<NuveqSimulator> {
  const sim = new NuveqSimulator(options);
  await sim.start();
  return sim;
}
export async function startPlatform(options?: PlatformSimOptions): Promise<PlatformSimulator> {
  const sim = new PlatformSimulator(options);
  await sim.start();
  return sim;
}
/**
 * Both names resolve to the one simulator, which tells them apart by Host, so a test sees which
 * host each call went to and a call on the wrong one fails (404).
 */
export const NEXUDUS_TEST_HOSTS = { api: '127.0.0.1', portal: 'localhost' };

export async function startNexudus(options?: NexudusSimOptions): Promise<NexudusSimulator> {
  const sim = new NexudusSimulator({ hosts: NEXUDUS_TEST_HOSTS, ...options });
  await sim.start();
  return sim;
}
export async function startNureva(options?: NurevaSimOptions): Promise<NurevaSimulator> {
  const sim = await NurevaSimulator.create(options);
  await sim.start();
  return sim;
}

/** Fails with the offending line when any of the secrets appears in the text. */
export function expectNoSecrets(text: string, secrets: Array<string | undefined>): void {
  for (const secret of secrets) {
    if (!secret) continue;
    const at = text.indexOf(secret);
    if (at >= 0) {
      const line = text.slice(text.lastIndexOf('\n', at) + 1, text.indexOf('\n', at) + 1 || undefined);
      throw new Error(`a secret appears in the output: ${line.replace(secret, '<<SECRET>>').slice(0, 300)}`);
    }
  }
}

export { DEMO_ROOMS };
