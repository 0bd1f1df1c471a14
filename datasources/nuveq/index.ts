import { readSdl } from '../../src/graphql/sdl.js';
import type { VendorModule } from '../../src/vendors/module.js';
import { NuveqClient, VENDOR } from './client.js';
import { readNuveqConfig, type NuveqConfig } from './config.js';
import { NuveqDataSource } from './datasource.js';
import { NuveqUserRecord } from './user.js';
import { nuveqResolvers } from './resolvers.js';

declare module '../../src/vendors/module.js' {
  interface DataSources {
    nuveq: NuveqDataSource;
  }
}

/** Nuveq access control: users by id through the api-port API (README, "Nuveq: users"). */
export const nuveq: VendorModule<NuveqConfig, NuveqClient, NuveqDataSource> = {
  name: VENDOR,
  key: 'nuveq',
  prefix: 'NUVEQ_',
  readConfig: readNuveqConfig,
  secrets: (config) => [config.tokenKey],
  createClient: (config, deps) => new NuveqClient(config, deps),
  forRequest: (client, request) => new NuveqDataSource(client, request),
  typeDefs: readSdl('datasources/nuveq/schema.graphql'),
  resolvers: nuveqResolvers,
  examples: `query Users {
  nuveqUsers(userIds: ["1001", "1002", "1003"]) { userId name email department { id name } lastSeenAt }
}`,
  userType: { typename: 'NuveqUser', owns: (record) => record instanceof NuveqUserRecord },
  demo: async (options) => (await import('../../simulators/nuveq/demo.js')).startNuveqDemo(options),
};
