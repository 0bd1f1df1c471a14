import { UnauthenticatedError, UpstreamError, type SwitchboardError, errorFromStatus } from '../../../src/errors.js';
import { UpstreamClient, type UpstreamResponse } from '../../../src/upstream/client.js';
import { VendorApi } from '../../../src/upstream/vendor-api.js';
import type { DemoOptions, DemoVendor, VendorDeps, VendorModule, VendorRequest } from '../../../src/vendors/module.js';
import { upstreamDefaults } from '../../../src/vendors/upstream-defaults.js';
import { Simulator, type SimRequest } from '../../../simulators/server.js';

/**
 * A fifth vendor, as small as a vendor gets, registered by a test alone: its configuration (ECHO_*),
 * its secret, its client and datasource, its schema and resolvers, its User type and its
 * simulator in the demo. Nothing outside this folder knows it.
 */

interface EchoConfig {
  url: string;
  apiKey: string;
}

interface EchoUserRecord {
  echoId: string;
  name: string;
}

class EchoClient extends VendorApi {
  protected readonly vendor = 'ECHO';
  readonly http: UpstreamClient;
  constructor(
    readonly config: EchoConfig,
    deps: VendorDeps,
  ) {
    super();
    this.http = new UpstreamClient({ vendor: 'ECHO', baseUrl: config.url, ...upstreamDefaults(deps) });
  }
  errorFromResponse(res: UpstreamResponse): SwitchboardError {
    if (res.status === 401) return new UpstreamError('ECHO', 'Echo rejected the gateway key');
    return errorFromStatus('ECHO', { status: res.status, payload: res.text });
  }
  close(): Promise<void> {
    return this.http.close();
  }
}

class EchoDataSource {
  constructor(
    private readonly client: EchoClient,
    private readonly request: VendorRequest,
  ) {}
  async user(id: string): Promise<EchoUserRecord | null> {
    if (!/^\d+$/.test(id)) throw new UnauthenticatedError('an echo id is digits');
    const res = await this.client.http.request({ operation: 'user', method: 'GET', path: `/users/${id}`, headers: { 'x-api-key': this.client.config.apiKey }, scope: this.request.scope });
    if (res.status === 404) return null;
    return this.client.json<EchoUserRecord>(this.client.expect(res));
  }
}

declare module '../../../src/vendors/module.js' {
  interface DataSources {
    echo: EchoDataSource;
  }
}

export class EchoSimulator extends Simulator {
  readonly apiKey = 'echo-secret-key-0123456789';
  constructor() {
    super('echo');
    this.route('GET', '/users/:id', (req: SimRequest) => {
      if (req.headers['x-api-key'] !== this.apiKey) return { status: 401, json: { error: 'no' } };
      return req.params.id === '0' ? { status: 404, json: {} } : { status: 200, json: { echoId: req.params.id, name: `Echo ${req.params.id}` } };
    });
  }
}

export const echo: VendorModule<EchoConfig, EchoClient, EchoDataSource> = {
  name: 'ECHO',
  key: 'echo',
  prefix: 'ECHO_',
  readConfig(env) {
    const url = env.given('ECHO_URL') === undefined ? env.required('ECHO_URL') : env.url('ECHO_URL');
    const apiKey = env.required('ECHO_API_KEY');
    return url && apiKey ? { url, apiKey } : undefined;
  },
  secrets: (config) => [config.apiKey],
  createClient: (config, deps) => new EchoClient(config, deps),
  forRequest: (client, request) => new EchoDataSource(client, request),
  typeDefs: `
    extend enum Vendor { ECHO }
    type EchoUser implements User @key(fields: "id") { id: ID! vendor: Vendor! userId: ID! email: String name: String }
    extend type Query { "An echo user, as the User interface." echoUser(id: ID!): User }
  `,
  resolvers: {
    Query: { echoUser: (_p: unknown, args: { id: string }, ctx: { vendor(key: 'echo'): EchoDataSource }) => ctx.vendor('echo').user(args.id) },
    EchoUser: {
      id: (u: EchoUserRecord) => `echo:${u.echoId}`,
      vendor: () => 'ECHO',
      userId: (u: EchoUserRecord) => u.echoId,
      email: () => null,
      name: (u: EchoUserRecord) => u.name,
    },
  },
  userType: { typename: 'EchoUser', owns: (record) => 'echoId' in record },
  async demo(options: DemoOptions): Promise<DemoVendor & { simulator: EchoSimulator }> {
    const sim = new EchoSimulator();
    sim.latencyMs = options.latencyMs;
    await sim.start();
    return { env: { ECHO_URL: sim.url, ECHO_API_KEY: sim.apiKey }, logins: '  Echo users         echoUser: any digits', simulator: sim, stop: () => sim.stop() };
  },
};
