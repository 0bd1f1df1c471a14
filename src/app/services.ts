import { createHmac } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { deriveKeys, Sealer } from '../auth/keys.js';
import { MemorySessionStore } from '../auth/memory-session-store.js';
import { SessionManager, type SessionStore } from '../auth/sessions.js';
import { TokenCache, type TokenStore } from '../auth/token-cache.js';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Services, VendorEntry } from '../graphql/context.js';
import { LoginThrottle, MemoryFailureStore, type FailureStore } from '../limits/login-throttle.js';
import { RateLimiter, type RateStore } from '../limits/rate-limiter.js';
import { createLogger, SecretRegistry, type Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { logFields } from '../tracing/spans.js';
import type { Tracing } from '../tracing/setup.js';
import type { VendorDeps, VendorModule } from '../vendors/module.js';

/** Shared state: in-process by default, Redis for many replicas (or fakes, in tests). */
export interface Stores {
  sessions?: SessionStore;
  tokens?: TokenStore;
  rates?: RateStore;
  failures?: FailureStore;
  ping?: () => Promise<boolean>;
}

export interface ServiceOptions {
  config: Config;
  modules: readonly VendorModule[];
  logger: Logger;
  stores?: Stores;
  clock?: Clock;
  tracing?: Tracing;
}

/** Every configured secret value (the gateway's and each vendor's), so log lines can never carry them. */
export function secretsOf(config: Config, modules: readonly VendorModule[]): SecretRegistry {
  const secrets = new SecretRegistry();
  secrets.add(config.sessionSecret);
  secrets.add(config.redis?.password);
  if (config.redis?.mode === 'sentinel') secrets.add(config.redis.sentinelPassword);
  // A collector's credentials travel in the exporter's headers.
  for (const value of Object.values(config.tracing?.headers ?? {})) secrets.add(value);
  for (const module of modules) {
    const vendorConfig = config.vendors[module.key];
    if (vendorConfig !== undefined) for (const secret of module.secrets(vendorConfig)) secrets.add(secret);
  }
  return secrets;
}

export function createGatewayLogger(config: Config, modules: readonly VendorModule[], destination?: DestinationStream): Logger {
  // With tracing on, a line written while a request or a vendor call runs names its trace and span.
  return createLogger({ level: config.logLevel, secrets: secretsOf(config, modules), destination, mixin: config.tracing ? logFields : undefined });
}

/** The process-wide services: keys, token cache, budgets, throttles, sessions, and each configured vendor's client. */
export function buildServices(options: ServiceOptions): Services {
  const { config, logger, stores } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const metrics = new Metrics({ defaultMetrics: true });
  const keys = deriveKeys(config.sessionSecret);
  const sealer = new Sealer(keys.sealing);
  const tokens = new TokenCache({ max: config.tokenCacheMax, hmacKey: keys.hashing, metrics, now, l2: stores?.tokens ? { store: stores.tokens, sealer } : undefined });
  const limiter = new RateLimiter({ metrics, now, store: stores?.rates, maxQueue: config.limits.vendorQueue });
  const { maxFailures, maxFailuresPerClient, windowMs } = config.login;
  const loginThrottle = new LoginThrottle({ maxFailures, maxFailuresPerClient, windowMs, hmacKey: keys.hashing, metrics, now, store: stores?.failures });
  const sessions = new SessionManager(
    keys.sessionSigning,
    stores?.sessions ?? new MemorySessionStore({ max: config.sessions.max, maxPerOwner: config.sessions.maxPerClient, now }),
    config.sessionTtlMs,
    now,
    {
      perMinute: config.sessions.newPerClientPerMinute,
      log: stores?.failures ?? new MemoryFailureStore(),
      ownerOf: (client) => createHmac('sha256', keys.hashing).update(`client\u0000${client}`).digest('base64url'),
    },
  );
  const gateway = { upstreamTimeoutMs: config.upstreamTimeoutMs, vendorQueue: config.limits.vendorQueue, subscriptionEventBuffer: config.subscriptions.eventBuffer };
  const deps: VendorDeps = { gateway, logger, metrics, tokens, limiter, sealer, loginThrottle, sessions, clock, tracing: options.tracing };
  const vendors = new Map<string, VendorEntry>();
  for (const module of options.modules) {
    const vendorConfig = config.vendors[module.key];
    if (vendorConfig !== undefined) vendors.set(module.key, { module, client: module.createClient(vendorConfig, deps) });
  }
  return { ...deps, config, keys, modules: new Map(options.modules.map((m) => [m.key, m])), vendors };
}
