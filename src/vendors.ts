import { NexudusClient } from '../datasources/nexudus/client.js';
import { NurevaClient } from '../datasources/nureva/client.js';
import { NuveqClient } from '../datasources/nuveq/client.js';
import { PlatformClient } from '../datasources/platform/client.js';
import type { VendorDeps, Vendors } from './context.js';

/**
 * The vendors this gateway talks to: one process-wide client each, for every vendor whose
 * configuration is present. To add a vendor: a config section, a client here, a datasource getter
 * on Context, its schema file and resolvers (see README, "Adding a vendor").
 */
export function createVendors(deps: VendorDeps): Vendors {
  const { config } = deps;
  return {
    nuveq: config.nuveq && new NuveqClient(config.nuveq, deps),
    nexudus: config.nexudus && new NexudusClient(config.nexudus, deps),
    platform: config.platform && new PlatformClient(config.platform, deps),
    nureva: config.nureva && new NurevaClient(config.nureva, deps),
  };
}
