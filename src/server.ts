import { createHmac } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type HTTPGraphQLRequest } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import cors from 'cors';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { DestinationStream } from 'pino';
import { packageInfo, type Config } from './config.js';
import { buildSchema } from './schema.js';

import { Context, type RequestInfo, type Services } from './context.js';
import { createFormatError, detailForLog, errorCodeOf } from './errors.js';
import { FastPath } from './fast-path.js';
import { landingPageHtml } from './landing.js';
import { createLogger, SecretRegistry, type Logger } from './logger.js';
import { LoginThrottle, MemoryFailureStore, type FailureStore } from './login-throttle.js';
import { Metrics } from './metrics.js';
import { RateLimiter, type RateStore } from './rate-limit.js';
import { deriveKeys, Sealer } from './secrets.js';
import { createRedisStores, type RedisStores } from './redis.js';
import { MemorySessionStore, SessionManager, type SessionStore } from './sessions.js';
import { TokenCache, type TokenStore } from './token-cache.js';
import { createVendors } from './vendors.js';
import { ClientGoneError, RequestScope, type CallScope } from './request-scope.js';
import { CSRF_MESSAGE, csrfBlocked, documentStore, isJsonType, listLimitMessage, maxListItemsRule, mediaEssence, oversizedList, persistedQueryStore } from './pipeline.js';

export const MAX_BODY_BYTES = 1024 * 1024;
const BEARER = /^Bearer\s+(.*)$/is;

/** The `variables` of a GET request's query string, parsed; undefined when absent or not JSON (Apollo answers that). */
function variablesOfQueryString(search: string): unknown {
  if (!search.includes('variables')) return undefined;
  const raw = new URLSearchParams(search).get('variables');
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** The request body as text, or undefined once it passes MAX_BODY_BYTES (the rest is drained). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.off('end', onEnd);
        resolveBody(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolveBody(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
  });
}

/**
 * What a request's context knows of the HTTP request. A class, not an object literal with a
 * getter: V8 gives every such literal fresh hidden-class metadata in the old generation, which
 * made each young-generation GC about four times slower (1.6 MB promoted per scavenge, not 0.2 MB).
 */
class HttpRequestInfo implements RequestInfo {
  constructor(
    private readonly req: IncomingMessage,
    readonly token: string | undefined,
    private readonly trustProxy: number,
    readonly scope: CallScope,
    /** Told when a proxy forwards for clients but TRUST_PROXY does not count it. */
    private readonly untrustedProxy: () => void,
  ) {}

  /** The client's address, after TRUST_PROXY hops of X-Forwarded-For; read by the per-client limits. */
  get clientAddress(): string {
    const direct = this.req.socket.remoteAddress ?? 'unknown';
    if (this.trustProxy <= 0) {
      if (this.req.headers['x-forwarded-for'] !== undefined) this.untrustedProxy();
      return direct;
    }
    const hops = String(this.req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return hops[hops.length - this.trustProxy] ?? direct;
  }
}

export interface GatewayOptions {
  config: Config;
  /** Where logs go (tests collect them); stdout by default. */
  logDestination?: DestinationStream;
  logger?: Logger;
  /** Shared state (tests); by default Redis when REDIS_URL is set, else in-process. */
  stores?: { sessions?: SessionStore; tokens?: TokenStore; rates?: RateStore; failures?: FailureStore; ping?: () => Promise<boolean> };
  /** Session token the explorer page pre-fills (demo mode). */
  demoToken?: string;
  /** Extra work on close, after the server drained (the demo's simulators). */
  onClose?: () => Promise<void>;
}

export interface Gateway {
  readonly server: Server;
  readonly services: Services;
  readonly apollo: ApolloServer<Context>;
  /** http://host:port once listening. */
  url: string;
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then releases everything. */
  close(): Promise<void>;
  setDemoToken(token: string): void;
}

/** Every configured secret value, so log lines can never carry them whatever field they sit in. */
function secretsOf(config: Config): SecretRegistry {
  const secrets = new SecretRegistry();
  secrets.add(config.sessionSecret);
  secrets.add(config.nuveq?.tokenKey);
  secrets.add(config.platform?.password);
  secrets.add(config.redisUrl && new URL(config.redisUrl).password ? decodeURIComponent(new URL(config.redisUrl).password) : undefined);
  return secrets;
}

export function buildServices(options: GatewayOptions): Services {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config), destination: options.logDestination });
  const metrics = new Metrics({ defaultMetrics: true });
  const keys = deriveKeys(config.sessionSecret);
  const sealer = new Sealer(keys.sealing);
  const tokens = new TokenCache({
    max: config.tokenCacheMax,
    hmacKey: keys.hashing,
    metrics,
    l2: options.stores?.tokens ? { store: options.stores.tokens, sealer } : undefined,
  });
  const limiter = new RateLimiter({ metrics, store: options.stores?.rates, maxQueue: config.limits.vendorQueue });
  const loginThrottle = new LoginThrottle({
    maxFailures: config.login.maxFailures,
    maxFailuresPerClient: config.login.maxFailuresPerClient,
    windowMs: config.login.windowMs,
    hmacKey: keys.hashing,
    metrics,
    store: options.stores?.failures,
  });
  const sessions = new SessionManager(
    keys.sessionSigning,
    options.stores?.sessions ?? new MemorySessionStore({ max: config.sessions.max, maxPerOwner: config.sessions.maxPerClient }),
    config.sessionTtlMs,
    undefined,
    {
      perMinute: config.sessions.newPerClientPerMinute,
      log: options.stores?.failures ?? new MemoryFailureStore(),
      ownerOf: (client) => createHmac('sha256', keys.hashing).update(`client\u0000${client}`).digest('base64url'),
    },
  );
  const deps = { config, logger, metrics, tokens, limiter, sealer, loginThrottle, sessions };
  return { ...deps, keys, vendors: createVendors(deps) };
}

function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const e of errors) metrics.graphqlErrors.inc({ code: errorCodeOf(e) });
        },
        async willSendResponse({ operation, errors }) {
          metrics.operation(operation?.operation ?? 'unknown', errors?.length ? 'error' : 'ok');
        },
      };
    },
  };
}

/**
 * Subscriptions are not served over a plain POST or GET: that is a client's mistake (400), not an
 * internal error with a stack in the log.
 */
const subscriptionsOverHttpPlugin: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation === 'subscription') {
          throw new GraphQLError('Subscriptions are not served over a plain GraphQL request: use a WebSocket (graphql-transport-ws) or GraphQL over SSE', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      },
    };
  },
};

/**
 * graphql-armor's rules throw on rejection by default, which Apollo reports as an internal error;
 * reported through the validation context they are ordinary validation errors (400).
 */
function reportLimit(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  let redis: RedisStores | undefined;
  if (config.redisUrl && !options.stores) {
    const bootLogger = options.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config), destination: options.logDestination });
    redis = createRedisStores(config.redisUrl, { logger: bootLogger, replicas: config.replicas, maxSessionsPerClient: config.sessions.maxPerClient });
    options = { ...options, logger: bootLogger, stores: redis };
    if (!(await redis.connected(5_000))) bootLogger.warn('Redis did not answer at start-up: serving, not ready, until it does');
  }
  const services = buildServices(options);
  const { logger, metrics } = services;
  let demoToken = options.demoToken;
  const version = packageInfo().version;

  const plugins: ApolloServerPlugin<Context>[] = [
    ApolloServerPluginCacheControlDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
    ApolloServerPluginInlineTraceDisabled(),
    metricsPlugin(metrics),
    subscriptionsOverHttpPlugin,
  ];
  if (config.production) plugins.push(ApolloServerPluginLandingPageDisabled());
  else {
    plugins.push({
      async serverWillStart() {
        return { async renderLandingPage() { return { html: () => Promise.resolve(landingPageHtml({ demoToken, version })) }; } };
      },
    });
  }

  const schema = buildSchema();
  const validationRules = [
    maxDepthRule({ n: config.limits.depth, exposeLimits: true, propagateOnRejection: false, onReject: [reportLimit] }),
    // Introspection is the one place this schema can nest without end (`ofType { ofType ... }`);
    // explorers need about 21 levels (graphql-js getIntrospectionQuery), so it gets its own, looser bound.
    maxDepthRule({ n: Math.max(30, config.limits.depth), ignoreIntrospection: false, exposeLimits: true, propagateOnRejection: false, onReject: [reportLimit] }),
    maxAliasesRule({ n: config.limits.aliases, exposeLimits: true, propagateOnRejection: false, onReject: [reportLimit] }),
    maxListItemsRule(config.limits.listItems),
  ];
  const formatError = createFormatError({
    production: config.production,
    onMasked: (error) => logger.error({ err: error }, 'unexpected error (masked for the client)'),
    onVendorDetail: (error) => {
      const fields = { vendor: error.vendor, code: error.code, vendorAnswer: detailForLog(error.detail!) };
      if (error.code.startsWith('UPSTREAM')) logger.warn(fields, 'a vendor answered something unusable');
      else logger.debug(fields, 'what the vendor said');
    },
  });
  const apollo = new ApolloServer<Context>({
    schema,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: config.production,
    nodeEnv: config.production ? 'production' : 'development',
    parseOptions: { maxTokens: config.limits.tokens },
    validationRules,
    formatError,
    stopOnTerminationSignals: false,
    // Kept in this process, bounded in bytes: a client whose query is not here sends it again.
    persistedQueries: { cache: persistedQueryStore(config.limits.apqCacheBytes, config.limits.apqDocumentBytes), ttl: 86_400 },
    documentStore: documentStore(config.limits.documentCacheBytes),
    logger,
    plugins,
  });
  await apollo.start();
  const fastPath = config.fastPath
    ? new FastPath({ schema, rules: validationRules, maxTokens: config.limits.tokens, introspection: config.introspection, formatError, metrics, maxBytes: config.limits.documentCacheBytes })
    : undefined;

  const corsHandler = config.corsOrigins.length
    ? cors({
        origin: config.corsOrigins,
        methods: ['GET', 'POST'],
        allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name'],
        maxAge: 600,
      })
    : undefined;

  let ready = false;
  let closing = false;

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const badRequest = (res: ServerResponse, message: string, code = 'BAD_REQUEST', extensions: Record<string, unknown> = {}) =>
    sendJson(res, 400, { errors: [{ message, extensions: { code, ...extensions } }] });

  /**
   * One pipeline for every GraphQL request: CORS, CSRF, the body (size, media type, JSON) and the
   * size of list variables are checked here, before the fast path or Apollo Server sees it.
   */
  const graphql = async (req: IncomingMessage, res: ServerResponse, search: string) => {
    if (corsHandler) {
      let next = false;
      corsHandler(req, res, () => (next = true));
      if (!next) return; // the preflight was answered
    }
    // A browser asking for the explorer page is not a GraphQL request: Apollo serves the page (or,
    // where it does not, applies the same CSRF rule itself).
    const wantsPage = req.method === 'GET' && /text\/html/i.test(req.headers.accept ?? '');
    if ((req.method === 'POST' || (req.method === 'GET' && !wantsPage)) && csrfBlocked(req.headers)) return badRequest(res, CSRF_MESSAGE);
    let body: unknown;
    const essence = mediaEssence(req.headers['content-type']);
    const isJson = isJsonType(essence);
    if (req.method === 'POST') {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_BODY_BYTES) return refuseBody(req, res);
      const text = await readBody(req);
      if (text === undefined) return refuseBody(req, res);
      if (isJson && text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          return badRequest(res, 'The request body is not valid JSON');
        }
      } else {
        body = text;
      }
    }
    const variables = req.method === 'POST' ? (body as { variables?: unknown } | null)?.variables : variablesOfQueryString(search);
    const tooLong = variables && typeof variables === 'object' ? oversizedList(variables, config.limits.listItems) : undefined;
    if (tooLong) {
      metrics.graphqlErrors.inc({ code: 'BAD_USER_INPUT' });
      return badRequest(res, listLimitMessage(tooLong, config.limits.listItems), 'BAD_USER_INPUT', { limit: config.limits.listItems });
    }
    const auth = req.headers.authorization;
    const token = auth ? BEARER.exec(auth)?.[1]?.trim() : undefined;
    const context = new Context(services, new HttpRequestInfo(req, token || undefined, config.trustProxy, requestScope(req, res), untrustedProxy));
    if (fastPath && req.method === 'POST' && essence === 'application/json') {
      const answer = await fastPath.run(body, req.headers.accept, context);
      if (answer) {
        res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), 'x-content-type-options': 'nosniff', ...(closing ? { connection: 'close' } : {}) });
        res.end(answer.body);
        return;
      }
    }
    res.setHeader('x-content-type-options', 'nosniff');
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const httpGraphQLRequest: HTTPGraphQLRequest = { method: (req.method ?? 'GET').toUpperCase(), headers, search, body };
    const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context: async () => context });
    for (const [key, value] of result.headers) res.setHeader(key, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };

  // Behind a proxy that TRUST_PROXY does not count, every client shares the proxy's address in the
  // per-client limits. Said once, to the operator who can fix it.
  let warnedProxy = false;
  const untrustedProxy = () => {
    if (warnedProxy) return;
    warnedProxy = true;
    logger.warn(
      { variable: 'TRUST_PROXY' },
      'Requests arrive with X-Forwarded-For but TRUST_PROXY=0: every client behind that proxy shares its address in the per-client limits (failed logins, new sessions); set TRUST_PROXY to the number of proxies in front',
    );
  };

  /**
   * The request's vendor-call scope: its budget of calls, a deadline REQUEST_TIMEOUT_MS away, and
   * a signal that fires when the client closes the connection before its answer is written, so
   * work still queued for it is dropped.
   */
  const requestScope = (req: IncomingMessage, res: ServerResponse): RequestScope => {
    const controller = new AbortController();
    // One listener per vendor call waiting in a queue, up to the request's call budget.
    setMaxListeners(config.limits.vendorCallsPerRequest + 10, controller.signal);
    // Gone: the connection closed, or the client ended its side (a client that closes its socket
    // right after sending leaves it half-open; Node keeps it so until the answer is written). One
    // that left before its request was even read gives no event at all.
    const socket = req.socket;
    if (socket.destroyed || socket.readableEnded) controller.abort(new ClientGoneError());
    else {
      const gone = () => {
        if (!res.writableFinished) controller.abort(new ClientGoneError());
      };
      socket.once('end', gone);
      res.once('close', () => {
        socket.off('end', gone);
        gone();
      });
    }
    return new RequestScope(controller.signal, Date.now() + config.limits.requestTimeoutMs, config.limits.vendorCallsPerRequest);
  };

  const refuseBody = (req: IncomingMessage, res: ServerResponse) => {
    sendJson(res, 413, { errors: [{ message: `The request body is larger than ${MAX_BODY_BYTES} bytes`, extensions: { code: 'BAD_REQUEST' } }] }, { connection: 'close' });
    // Stop reading the rest of an oversized upload; the socket closes after the answer.
    req.unpipe();
    req.resume();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (closing) res.setHeader('connection', 'close');
    if (path === '/graphql') return graphql(req, res, q < 0 ? '' : url.slice(q));
    res.setHeader('x-content-type-options', 'nosniff');
    switch (path) {
      case '/health':
        return sendJson(res, 200, { status: 'ok', demo: config.demo });
      case '/ready': {
        const storeUp = ready && !closing && (await (options.stores?.ping ?? (() => services.sessions.store.ping()))().catch(() => false));
        metrics.sessionStoreUp.set(storeUp ? 1 : 0);
        return sendJson(res, storeUp ? 200 : 503, { status: storeUp ? 'ready' : 'not ready' });
      }
      case '/metrics': {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
        return;
      }
      case '/':
        if (!config.production && req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(landingPageHtml({ demoToken, version }));
          return;
        }
        return sendJson(res, 404, { error: 'Not found; the GraphQL endpoint is /graphql' });
      default:
        return sendJson(res, 404, { error: 'Not found' });
    }
  };

  // Slow clients must not hold sockets: headers within 10 s, the whole request within 30 s. Node
  // checks these every `connectionsCheckingInterval` (30 s by default, which would triple them).
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request handler failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;

  const gateway: Gateway = {
    server,
    services,
    apollo,
    url: '',
    async listen(port = config.port, host = config.host) {
      await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolveListen());
      });
      const address = server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      gateway.url = `http://${shownHost}:${address.port}`;
      ready = true;
      return gateway.url;
    },
    async close() {
      if (closing) return;
      closing = true;
      ready = false;
      // close() stops accepting and resolves once every connection is gone: requests in flight
      // finish, and each connection is closed as soon as it falls idle (answers in the meantime
      // say `connection: close`). A request still running after the grace period is cut.
      const stopped = new Promise<void>((r) => server.close(() => r()));
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const grace = setTimeout(() => server.closeAllConnections(), config.upstreamTimeoutMs + 5_000);
      server.closeIdleConnections();
      await stopped;
      clearInterval(sweep);
      clearTimeout(grace);
      await apollo.stop();
      await Promise.all(Object.values(services.vendors).map((v) => v?.close()));
      await services.sessions.store.close();
      await redis?.close();
      await options.onClose?.();
    },
    setDemoToken(token: string) {
      demoToken = token;
    },
  };
  return gateway;
}
