import type { UpstreamClientOptions } from '../upstream/client.js';
import type { VendorDeps } from './module.js';

/**
 * What every vendor's UpstreamClient takes from the gateway: the vendor timeout, metrics, logger,
 * clock and tracing. Spread into each client's options, so a new vendor cannot forget one (a
 * client without the tracer would make no spans; one without the clock, deadlines tests can't move).
 */
export function upstreamDefaults(deps: VendorDeps): Pick<UpstreamClientOptions, 'timeoutMs' | 'metrics' | 'logger' | 'clock' | 'tracing'> {
  return { timeoutMs: deps.gateway.upstreamTimeoutMs, metrics: deps.metrics, logger: deps.logger, clock: deps.clock, tracing: deps.tracing };
}
