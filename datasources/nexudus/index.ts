import { readSdl } from '../../src/graphql/sdl.js';
import type { VendorModule } from '../../src/vendors/module.js';
import { NexudusClient, VENDOR } from './client.js';
import { readNexudusConfig, type NexudusConfig } from './config.js';
import { NexudusDataSource } from './datasource.js';
import { nexudusResolvers } from './resolvers.js';

declare module '../../src/vendors/module.js' {
  interface DataSources {
    nexudus: NexudusDataSource;
  }
}

/** Nexudus Spaces: member logins, the members portal, impersonation (README, "Nexudus: members, impersonation"). */
export const nexudus: VendorModule<NexudusConfig, NexudusClient, NexudusDataSource> = {
  name: VENDOR,
  key: 'nexudus',
  prefix: 'NEXUDUS_',
  readConfig: readNexudusConfig,
  // Member passwords arrive per login, never from configuration.
  secrets: () => [],
  createClient: (config, deps) => new NexudusClient(config, deps),
  forRequest: (client, request) => new NexudusDataSource(client, request),
  typeDefs: readSdl('datasources/nexudus/schema.graphql'),
  resolvers: nexudusResolvers,
  userType: { typename: 'NexudusUser', owns: (record) => 'Id' in record },
  demo: async (options) => (await import('../../simulators/nexudus/demo.js')).startNexudusDemo(options),
};
