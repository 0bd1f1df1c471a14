import type { VendorModule } from '../vendors/module.js';
import { VENDORS } from '../vendors/registry.js';
import { EnvReader, type Env } from './env.js';
import { readRedis } from './redis.js';
import { readTracing } from './tracing.js';
import type { Config, Limits, SessionLimits, SubscriptionLimits } from './types.js';

export type { Config, RedisConfig, Limits, SessionLimits, SubscriptionLimits } from './types.js';

/**
 * Configuration is read once, at start-up, from the environment (and `.env`). Every problem is
 * collected and reported together, variable by variable, and no message ever quotes a value.
 * The gateway's own variables are read here; each vendor module reads its own (by its prefix).
 */

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  cwd?: string;
  /** With DEMO=true, read the vendors' variables too (the demo's own, pointing at its simulators). */
  demoVendors?: boolean;
  /** The vendors this gateway knows (the registry by default). */
  vendors?: readonly VendorModule[];
}

/** Reads and validates the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const reader = new EnvReader(env, options.cwd ?? process.cwd());
  const modules = options.vendors ?? VENDORS;
  const demoRaw = reader.given('DEMO');
  if (demoRaw !== undefined && demoRaw !== 'true' && demoRaw !== 'false') reader.problem('DEMO', 'must be true or false');
  const anyVendor = modules.some((m) => reader.setWithPrefix(m.prefix).length > 0);
  const demo = demoRaw === 'true' || (demoRaw !== 'false' && !anyVendor);
  const config: Config = { ...readGateway(reader, demo), login: readLogin(reader), limits: readLimits(reader), sessions: readSessions(reader), subscriptions: readSubscriptions(reader), tracing: readTracing(reader), vendors: {} };
  // In demo mode the vendors are the in-process simulators: DEMO=true ignores whatever vendor
  // variables are set, until the demo passes its own (`demoVendors`).
  if (demoRaw !== 'true' || options.demoVendors === true) {
    for (const module of modules) {
      if (reader.setWithPrefix(module.prefix).length === 0) continue;
      const vendorConfig = module.readConfig(reader);
      if (vendorConfig !== undefined) config.vendors[module.key] = vendorConfig;
    }
  }
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}

type GatewaySettings = Omit<Config, 'login' | 'limits' | 'sessions' | 'subscriptions' | 'tracing' | 'vendors'>;

function readGateway(env: EnvReader, demo: boolean): GatewaySettings {
  const production = env.env.NODE_ENV === 'production';
  let sessionSecret = env.given('SESSION_SECRET');
  if (sessionSecret === undefined) {
    if (!demo) env.problem('SESSION_SECRET', 'is required (at least 32 characters) outside demo mode');
  } else if (sessionSecret.length < 32) {
    env.problem('SESSION_SECRET', 'must be at least 32 characters');
    sessionSecret = undefined;
  }
  const logLevel = env.string('LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    env.problem('LOG_LEVEL', 'must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const corsOrigins = env.list('CORS_ORIGINS');
  if (corsOrigins.some((origin) => !isOrigin(origin))) env.problem('CORS_ORIGINS', 'each entry must be an origin such as https://app.example.com');
  const explorer = env.string('EXPLORER', 'auto') as Config['explorer'];
  if (!['auto', 'local', 'sandbox'].includes(explorer)) env.problem('EXPLORER', 'must be auto, local or sandbox');
  return {
    production,
    port: env.given('PORT') === undefined ? 4000 : env.int('PORT', 4000, 0, 65535),
    host: env.string('HOST', '127.0.0.1'),
    sessionSecret: sessionSecret ?? '',
    sessionTtlMs: env.duration('SESSION_TTL', 8 * 3_600_000),
    redis: readRedis(env),
    replicas: env.int('REPLICAS', 1, 1, 1000),
    corsOrigins,
    introspection: env.bool('GRAPHQL_INTROSPECTION', !production),
    logLevel,
    upstreamTimeoutMs: env.int('UPSTREAM_TIMEOUT_MS', 10_000, 1, 600_000),
    demo,
    demoLatencyMs: env.int('DEMO_LATENCY_MS', 0, 0, 60_000),
    trustProxy: env.int('TRUST_PROXY', 0, 0, 10),
    tokenCacheMax: env.int('TOKEN_CACHE_MAX', 10_000, 1),
    fastPath: env.bool('GRAPHQL_FAST_PATH', true),
    explorer,
  };
}

function isOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === origin.replace(/\/$/, '');
  } catch {
    return false;
  }
}

function readLogin(env: EnvReader): Config['login'] {
  return {
    maxFailures: env.int('LOGIN_MAX_FAILURES', 5, 1, 1000),
    windowMs: env.duration('LOGIN_FAILURE_WINDOW', 15 * 60_000),
    maxFailuresPerClient: env.int('LOGIN_MAX_FAILURES_PER_CLIENT', 30, 1, 100_000),
  };
}

function readLimits(env: EnvReader): Limits {
  return {
    depth: env.int('GRAPHQL_MAX_DEPTH', 10, 1, 100),
    aliases: env.int('GRAPHQL_MAX_ALIASES', 15, 1, 1000),
    tokens: env.int('GRAPHQL_MAX_TOKENS', 2000, 10, 100_000),
    listItems: env.int('GRAPHQL_MAX_LIST_ITEMS', 500, 1, 100_000),
    vendorCallsPerRequest: env.int('MAX_VENDOR_CALLS_PER_REQUEST', 1000, 1, 1_000_000),
    requestTimeoutMs: env.int('REQUEST_TIMEOUT_MS', 30_000, 1, 600_000),
    vendorQueue: env.int('VENDOR_QUEUE_MAX', 1000, 1, 1_000_000),
    documentCacheBytes: env.int('GRAPHQL_DOCUMENT_CACHE_BYTES', 16 * 1024 * 1024, 0, 1024 ** 3),
    apqCacheBytes: env.int('APQ_CACHE_BYTES', 8 * 1024 * 1024, 0, 1024 ** 3),
    apqDocumentBytes: env.int('APQ_MAX_DOCUMENT_BYTES', 32 * 1024, 0, 1024 * 1024),
  };
}

function readSessions(env: EnvReader): SessionLimits {
  return {
    max: env.int('SESSIONS_MAX', 100_000, 1, 100_000_000),
    maxPerClient: env.int('SESSIONS_MAX_PER_CLIENT', 1000, 1, 100_000_000),
    newPerClientPerMinute: env.int('SESSIONS_NEW_PER_CLIENT', 60, 1, 1000),
  };
}

function readSubscriptions(env: EnvReader): SubscriptionLimits {
  return {
    perConnection: env.int('SUBSCRIPTIONS_PER_CONNECTION', 20, 1, 10_000),
    perSession: env.int('SUBSCRIPTIONS_PER_SESSION', 50, 1, 100_000),
    connectionsPerClient: env.int('SUBSCRIPTION_CONNECTIONS_PER_CLIENT', 20, 1, 100_000),
    eventBuffer: env.int('SUBSCRIPTION_EVENT_BUFFER', 100, 1, 100_000),
  };
}
