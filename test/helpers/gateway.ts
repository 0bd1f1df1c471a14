import { loadConfig, type Config } from '../../src/config/load.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/app/gateway.js';

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
  const config = loadConfig({ SESSION_SECRET: TEST_SECRET, DEMO: 'false', LOG_LEVEL: 'debug', ...env }, { vendors: options.vendors });
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


/** A configured vendor's process-wide client (tests reach into its caches and gates). */
export function vendorClient<T>(gw: TestGateway | Gateway, key: string): T {
  const gateway = 'gateway' in gw ? gw.gateway : gw;
  const entry = gateway.services.vendors.get(key);
  if (!entry) throw new Error(`${key} is not configured on this gateway`);
  return entry.client as T;
}
