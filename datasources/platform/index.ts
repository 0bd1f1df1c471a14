import { readSdl } from '../../src/graphql/sdl.js';
import type { VendorModule } from '../../src/vendors/module.js';
import { PlatformClient, VENDOR } from './client.js';
import { readPlatformConfig, type PlatformConfig } from './config.js';
import { PlatformDataSource } from './datasource.js';
import { platformResolvers } from './resolvers.js';

declare module '../../src/vendors/module.js' {
  interface DataSources {
    platform: PlatformDataSource;
  }
}

/** The white-label platform's client accounts (README, "Platform: client accounts"). */
export const platform: VendorModule<PlatformConfig, PlatformClient, PlatformDataSource> = {
  name: VENDOR,
  key: 'platform',
  prefix: 'PLATFORM_',
  readConfig: readPlatformConfig,
  secrets: (config) => [config.password],
  createClient: (config, deps) => new PlatformClient(config, deps),
  forRequest: (client, request) => new PlatformDataSource(client, request),
  typeDefs: readSdl('datasources/platform/schema.graphql'),
  resolvers: platformResolvers,
  examples: `mutation LoginClient {
  loginClient(email: "ada@example.com", password: "demo-ada-1") {
    token
    session { id logins { vendor subject } clientAccount { email firstName lastName } }
  }
}`,
  userType: { typename: 'ClientAccount', owns: (record) => 'user_id' in record },
  demo: async (options) => (await import('../../simulators/platform/demo.js')).startPlatformDemo(options),
};
