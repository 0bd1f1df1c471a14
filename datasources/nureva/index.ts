import { readSdl } from '../../src/graphql/sdl.js';
import type { VendorModule } from '../../src/vendors/module.js';
import { NurevaClient, VENDOR } from './client.js';
import { readNurevaConfig, type NurevaConfig } from './config.js';
import { NurevaDataSource } from './datasource.js';
import { nurevaResolvers } from './resolvers.js';

declare module '../../src/vendors/module.js' {
  interface DataSources {
    nureva: NurevaDataSource;
  }
}

/** Nureva HDL310/410 audio bars, each its own REST API over pinned HTTPS (README, "Nureva: devices"). */
export const nureva: VendorModule<NurevaConfig, NurevaClient, NurevaDataSource> = {
  name: VENDOR,
  key: 'nureva',
  prefix: 'NUREVA_',
  readConfig: readNurevaConfig,
  // Device passwords arrive per login, never from configuration.
  secrets: () => [],
  createClient: (config, deps) => new NurevaClient(config, deps),
  forRequest: (client, request) => new NurevaDataSource(client, request),
  typeDefs: readSdl('datasources/nureva/schema.graphql'),
  resolvers: nurevaResolvers,
  examples: `query Devices {
  devices { id name url }
}`,
  demo: async (options) => (await import('../../simulators/nureva/demo.js')).startNurevaDemo(options),
};
