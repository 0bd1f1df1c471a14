import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import type { DestinationStream } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { packageInfo } from '../config/package.js';
import { createFormatError, detailForLog } from '../errors.js';
import { createApollo } from '../graphql/apollo.js';
import type { Context, Services } from '../graphql/context.js';
import { FastPath } from '../graphql/fast-path.js';
import { validationRules } from '../graphql/rules.js';
import { buildSchema } from '../graphql/schema.js';
import type { Logger } from '../logger.js';
import { connectRedis } from '../stores/redis/connect.js';
import type { VendorModule } from '../vendors/module.js';
import { VENDORS } from '../vendors/registry.js';
import { sendJson } from './respond.js';
import { ASSET_PREFIX, explorerRoutes } from './routes/explorer.js';
import { graphqlRoute } from './routes/graphql.js';
import { statusRoutes } from './routes/status.js';
import { corsCheck } from './cors.js';
import { startTracing } from '../tracing/setup.js';
import { traceRequest } from '../tracing/spans.js';
import { createSubscriptionServer, type SubscriptionServer } from '../subscriptions/server.js';
import { buildServices, createGatewayLogger, type Stores } from './services.js';

export interface GatewayOptions {
  config: Config;
  /** The vendors this gateway knows (the registry by default). */
  vendors?: readonly VendorModule[];
  /** Where logs go (tests collect them); stdout by default. */
  logDestination?: DestinationStream;
  logger?: Logger;
  /** Shared state (tests); by default Redis when REDIS_URL is set, else in-process. */
  stores?: Stores;
  /** The clock everything keeps time by (tests move it); the system's by default. */
  clock?: Clock;
  /** Session token the explorer page pre-fills (demo mode). */
  demoToken?: string;
  /** The demo's logins, shown on the explorer page (demo mode). */
  demoLogins?: string;
  /** Extra work on close, after the server drained (the demo's simulators). */
  onClose?: () => Promise<void>;
}

export interface Gateway {
  readonly server: Server;
  readonly services: Services;
  readonly apollo: ApolloServer<Context>;
  readonly subscriptions: SubscriptionServer;
  /** http://host:port once listening. */
  url: string;
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then releases everything. */
  close(): Promise<void>;
  /** The demo's ready session and logins, for the explorer page. */
  setDemo(demo: { token?: string; logins?: string }): void;
}

/** Where the gateway is in its life; everything it opened is closed, in reverse, on the way to `stopped`. */
type Phase = 'starting' | 'serving' | 'stopping' | 'stopped';

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const modules = options.vendors ?? VENDORS;
  let phase: Phase = 'starting';
  const disposers: Array<() => Promise<void>> = [];
  const logger = options.logger ?? createGatewayLogger(config, modules, options.logDestination);
  const redis = !options.stores && config.redis ? await connectRedis(config, logger) : undefined;
  if (redis) disposers.push(() => redis.close());
  const tracing = await startTracing(config.tracing, logger);
  // Last to go: the spans of everything else's shutdown are exported first.
  if (tracing) disposers.push(() => tracing.shutdown());
  const services = buildServices({ config, modules, logger, stores: options.stores ?? redis, clock: options.clock, tracing });
  disposers.push(() => services.sessions.store.close(), async () => void (await Promise.all([...services.vendors.values()].map((v) => v.client.close()))));
  const demo = { token: options.demoToken, logins: options.demoLogins };
  const examples = modules.flatMap((m) => (m.examples ? [m.examples] : []));
  const explorer = explorerRoutes(config.production, config.explorer, () => ({ demoToken: demo.token, demoLogins: demo.logins, version: packageInfo().version, examples }));
  const schema = buildSchema(modules);
  const rules = validationRules(config.limits);
  const formatError = loggingFormatError(config, logger);
  const apollo = await createApollo({ config, schema, rules, formatError, logger, metrics: services.metrics });
  disposers.push(() => apollo.stop());
  const fast = config.fastPath
    ? new FastPath({ schema, rules, maxTokens: config.limits.tokens, introspection: config.introspection, formatError, metrics: services.metrics, maxBytes: config.limits.documentCacheBytes, traced: tracing !== undefined })
    : undefined;
  const graphql = graphqlRoute({ config, services, apollo, fastPath: fast, closing: () => phase === 'stopping', landing: explorer.landing });
  const subscriptions = createSubscriptionServer({ config, schema, services, rules, format: (e) => formatError(e.toJSON(), e) });
  const streamCors = corsCheck(config.corsOrigins);
  const ping = options.stores?.ping ?? redis?.ping ?? (() => services.sessions.store.ping());
  const routes: Record<string, Route> = {
    ...statusRoutes({ demo: config.demo, metrics: services.metrics, ready: async () => phase === 'serving' && (await ping()) }),
    ...explorer.pages,
    '/graphql/stream': (req, res) => (streamCors(req, res) ? subscriptions.sse(req, res) : undefined),
  };
  const server = httpServer(logger, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (phase === 'stopping') res.setHeader('connection', 'close');
    if (path === '/graphql') return tracing ? traceRequest(tracing, req, res, () => graphql(req, res, q < 0 ? '' : url.slice(q))) : graphql(req, res, q < 0 ? '' : url.slice(q));
    res.setHeader('x-content-type-options', 'nosniff');
    const route = routes[path] ?? (path.startsWith(ASSET_PREFIX) ? explorer.assets : undefined);
    return route ? route(req, res) : sendJson(res, 404, { error: 'Not found' });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (phase !== 'serving' || !subscriptions.upgrade(req, socket, head)) socket.destroy();
  });
  if (options.onClose) disposers.unshift(options.onClose);

  const gateway: Gateway = {
    server,
    services,
    apollo,
    subscriptions,
    url: '',
    async listen(port = config.port, host = config.host) {
      gateway.url = await listen(server, port, host);
      phase = 'serving';
      return gateway.url;
    },
    async close() {
      if (phase === 'stopping' || phase === 'stopped') return;
      phase = 'stopping';
      // Subscriptions never end by themselves: end them (with a final answer) before draining.
      await subscriptions.close();
      await drain(server, config.upstreamTimeoutMs + 5_000);
      // Released in reverse order of creation: Apollo, vendor clients, sessions, Redis, then the caller's.
      for (const dispose of disposers.reverse()) await dispose();
      phase = 'stopped';
    },
    setDemo(given) {
      Object.assign(demo, given);
    },
  };
  return gateway;
}

/** The HTTP server: slow clients must not hold sockets (headers within 10 s, the request within 30 s). */
function httpServer(logger: Logger, handle: Route): Server {
  // Node checks the timeouts every `connectionsCheckingInterval` (30 s by default, which would triple them).
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    const failed = (error: unknown) => {
      logger.error({ err: error }, 'request handler failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    };
    // The handler's own promise, not one wrapped around it (an async function here cost two more hops).
    let handled: Promise<void> | void;
    try {
      handled = handle(req, res);
    } catch (error) {
      return failed(error);
    }
    handled?.catch(failed);
  });
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  return server;
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}

/**
 * Stops accepting and resolves once every connection is gone: requests in flight finish, and each
 * connection is closed as soon as it falls idle (answers meanwhile say `connection: close`). A
 * request still running after the grace period is cut.
 */
async function drain(server: Server, graceMs: number): Promise<void> {
  const stopped = new Promise<void>((r) => server.close(() => r()));
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const grace = setTimeout(() => server.closeAllConnections(), graceMs);
  server.closeIdleConnections();
  await stopped;
  clearInterval(sweep);
  clearTimeout(grace);
}

/** The one error format (errors.ts), with what it holds back from clients written to the log. */
function loggingFormatError(config: Config, logger: Logger): ReturnType<typeof createFormatError> {
  return createFormatError({
    production: config.production,
    onMasked: (error) => logger.error({ err: error }, 'unexpected error (masked for the client)'),
    onVendorDetail: (error) => {
      const fields = { vendor: error.vendor, code: error.code, vendorAnswer: detailForLog(error.detail!) };
      if (error.code.startsWith('UPSTREAM')) logger.warn(fields, 'a vendor answered something unusable');
      else logger.debug(fields, 'what the vendor said');
    },
  });
}
