/** The configuration, as read once at start-up (load.ts): the gateway's own settings and each enabled vendor's. */

export type ExplorerChoice = 'auto' | 'local' | 'sandbox';

export interface Config {
  production: boolean;
  port: number;
  host: string;
  sessionSecret: string;
  sessionTtlMs: number;
  /** Shared state for many replicas (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS); undefined: in-process. */
  redis?: RedisConfig;
  /** How many replicas share the vendor budgets: each keeps to budget / replicas while Redis is away. */
  replicas: number;
  corsOrigins: string[];
  introspection: boolean;
  logLevel: string;
  upstreamTimeoutMs: number;
  demo: boolean;
  /** Latency the demo's simulators add to every answer (DEMO_LATENCY_MS), to feel real vendors. */
  demoLatencyMs: number;
  trustProxy: number;
  tokenCacheMax: number;
  /** Execute validated documents directly (src/graphql/fast-path.ts); off sends every request through Apollo's pipeline. */
  fastPath: boolean;
  /** What `GET /` opens (EXPLORER): Sandbox with the local explorer as fallback, or one of them. */
  explorer: ExplorerChoice;
  login: { maxFailures: number; windowMs: number; maxFailuresPerClient: number };
  limits: Limits;
  sessions: SessionLimits;
  subscriptions: SubscriptionLimits;
  /** OpenTelemetry export (the OTEL_* variables); undefined: tracing is off. */
  tracing?: TracingConfig;
  /** Each enabled vendor's own configuration, by module key; a vendor not here is disabled. */
  vendors: Record<string, unknown>;
}

/** What one request may make the gateway hold, call or wait for (README, "Limits and abuse"). */
export interface Limits {
  depth: number;
  aliases: number;
  tokens: number;
  /** Items in one list argument, literal or in variables. */
  listItems: number;
  /** Vendor calls one GraphQL request may cause. */
  vendorCallsPerRequest: number;
  /** A request's vendor calls start by this long after it arrived, or not at all. */
  requestTimeoutMs: number;
  /** Vendor calls waiting for a connection or a budget, per queue; one more answers RATE_LIMITED at once. */
  vendorQueue: number;
  /** Bytes of parsed documents kept, per document cache (the fast path's, Apollo's). */
  documentCacheBytes: number;
  /** Bytes of automatic persisted queries kept in this process. */
  apqCacheBytes: number;
  /** Largest document registered as a persisted query (larger ones run, unregistered). */
  apqDocumentBytes: number;
}

export interface SessionLimits {
  /** Live sessions one process keeps (the in-process store). */
  max: number;
  /** Live sessions one client address holds; its next one ends its oldest. */
  maxPerClient: number;
  /** New sessions a client address may start a minute (successful logins without a session). */
  newPerClientPerMinute: number;
}

/** What live subscriptions may hold (README, "Limits and abuse"). */
export interface SubscriptionLimits {
  /** Subscriptions one WebSocket connection may run at once. */
  perConnection: number;
  /** Subscriptions one session may run at once, over all its connections. */
  perSession: number;
  /** WebSocket connections and event streams one client address may hold open. */
  connectionsPerClient: number;
  /** Events kept for a subscriber that reads slower than they come (event streams; value streams keep one). */
  eventBuffer: number;
}

/** Where and how traces are exported (README, "Tracing"). */
export interface TracingConfig {
  /** The OTLP/HTTP traces URL. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Sent with every export (a collector's API key: kept out of logs like every secret). */
  headers: Record<string, string>;
  exportTimeoutMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** An OTEL_TRACES_SAMPLER name, and its argument (the ratio). */
  sampler: string;
  samplerArg: number;
  batch: { scheduledDelayMillis: number; maxQueueSize: number; maxExportBatchSize: number; exportTimeoutMillis: number };
  /** Vendor calls carry `traceparent` (off: vendors are third parties). */
  propagateToVendors: boolean;
}

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** How to reach Redis, in one of the three forms, with what every form shares. */
export type RedisConfig = {
  password?: string;
  username?: string;
  tls: boolean;
  /** PEM of the CA that signed the servers' certificates (REDIS_TLS_CA). */
  ca?: string;
  /** Replicas a session write waits for (WAIT), and for how long at most. */
  waitReplicas: number;
  waitTimeoutMs: number;
  /** How long budgets wait for an unreachable Redis before each replica books within its share. */
  budgetGraceMs: number;
} & ({ mode: 'server'; url: string; endpoint: RedisEndpoint } | { mode: 'cluster'; nodes: RedisEndpoint[] } | { mode: 'sentinel'; sentinels: RedisEndpoint[]; master: string; sentinelPassword?: string });
