import type { SessionManager, SessionRecord } from '../auth/sessions.js';
import type { Sealer } from '../auth/keys.js';
import type { TokenCache } from '../auth/token-cache.js';
import type { Clock } from '../clock.js';
import type { EnvReader } from '../config/env.js';
import type { Logger } from '../logger.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { CallScope } from '../limits/request-scope.js';
import type { Metrics } from '../metrics.js';
import type { Tracing } from '../tracing/setup.js';

/**
 * What a vendor is to the gateway: one module per vendor, listed once in the registry
 * (`registry.ts`). The core (configuration, context, sessions, errors, schema, server, demo)
 * iterates the registry and never names a vendor; everything a vendor needs lives in its folder.
 */
export interface VendorModule<Config = unknown, Client extends VendorClient = VendorClient, DataSource = unknown> {
  /** As the GraphQL `Vendor` enum spells it, e.g. `ACME`. */
  readonly name: string;
  /** How resolvers ask for its datasource: `ctx.vendor('<key>')`. */
  readonly key: string;
  /** Its environment variables start with this, e.g. `ACME_`; any of them set enables the vendor. */
  readonly prefix: string;
  /** Reads and validates its variables; problems go to the reader (by variable name). */
  readConfig(env: EnvReader): Config | undefined;
  /** Configured values no log line may carry (API keys, passwords). */
  secrets(config: Config): Array<string | undefined>;
  /** The process-wide client: connection pools, token logins, budgets. */
  createClient(config: Config, deps: VendorDeps): Client;
  /** The per-request face resolvers call (its DataLoaders live one request long). */
  forRequest(client: Client, request: VendorRequest): DataSource;
  /** Its part of the schema (SDL that extends the core's types). */
  readonly typeDefs: string;
  /** Its resolvers, merged type by type with the core's and the other vendors'. */
  readonly resolvers: ResolverMap;
  /** Operations the explorer starts from (GraphQL, with the demo's logins and ids). */
  readonly examples?: string;
  /** The `User` implementation its records are, if it has one. */
  readonly userType?: { typename: string; owns(record: object): boolean };
  /** Its part of the demo: simulators started on loopback, and the variables that point at them. */
  demo?(options: DemoOptions): Promise<DemoVendor>;
}

/** Whatever outlives a request: closed when the gateway stops. */
export interface VendorClient {
  close(): Promise<void>;
}

/** Process-wide services every vendor client is built from. */
export interface VendorDeps {
  /** The gateway's settings vendors read: timeouts and queue bounds. */
  gateway: { upstreamTimeoutMs: number; vendorQueue: number; subscriptionEventBuffer: number };
  logger: Logger;
  metrics: Metrics;
  tokens: TokenCache;
  limiter: RateLimiter;
  sealer: Sealer;
  loginThrottle: LoginThrottle;
  sessions: SessionManager;
  clock: Clock;
  /** OpenTelemetry when it is on (each vendor client hands it to its UpstreamClient). */
  tracing?: Tracing;
}

/**
 * What a datasource sees of the GraphQL request it serves: the caller, its session, and the scope
 * its vendor calls carry. Narrow on purpose: datasources never see the core's Context.
 */
export interface VendorRequest {
  readonly services: VendorDeps;
  /** The bearer token as sent, if any. */
  readonly token?: string;
  /** The client's address (after TRUST_PROXY hops), for the per-client limits. */
  readonly clientAddress: string;
  /** Cancellation, deadline and call budget of this request's vendor calls. */
  readonly scope: CallScope;
  /** The live session of the request's token, or undefined. */
  session(): Promise<SessionRecord | undefined>;
}

/** Resolvers by type name and field (graphql-tools' shape), typed by each vendor with codegen's types. */
export type ResolverMap = Record<string, unknown>;

/**
 * The datasource of each vendor, by key: each vendor module adds its own entry (declaration
 * merging), so `ctx.vendor('<key>')` is typed without the core naming any vendor.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DataSources {}

export interface DemoOptions {
  /** Latency the simulators add to every answer. */
  latencyMs: number;
}

/** A vendor's part of a running demo. */
export interface DemoVendor {
  /** The vendor's variables, pointing at its simulators. */
  env: Record<string, string>;
  /** What to print about its demo logins (one line). */
  logins: string;
  /** Its simulator(s), for tests that reach into a demo. */
  simulator?: unknown;
  /** A login mutation (selecting `token`) that gives the demo a ready session, and whose it is. */
  readySession?: { document: string; who: string };
  stop(): Promise<void>;
}
