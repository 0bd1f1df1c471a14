import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import type { Config } from '../../config/types.js';
import { Context, type Services } from '../../graphql/context.js';
import type { FastAnswer, FastPath } from '../../graphql/fast-path.js';
import { CSRF_MESSAGE, csrfBlocked, isJsonType, listLimitMessage, mediaEssence, oversizedList } from '../request-checks.js';
import { bearerToken, HttpRequestInfo, MAX_BODY_BYTES, readBody, releaseScope, requestScope, variablesOfQueryString } from '../request-info.js';
import { sendErrors } from '../respond.js';
import { corsCheck } from '../cors.js';

export interface GraphqlRouteOptions {
  config: Config;
  services: Services;
  apollo: ApolloServer<Context>;
  fastPath?: FastPath;
  /** Whether the gateway is stopping (answers then say `connection: close`). */
  closing: () => boolean;
  /** The explorer page, for a browser opening /graphql (outside production). */
  landing?: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
}

/**
 * `/graphql`: one pipeline for every GraphQL request. CORS, CSRF, the body (size, media type,
 * JSON) and the size of list variables are checked here, before the fast path or Apollo Server
 * sees the request, so no faster path can skip a check.
 *
 * Promise chains, not async/await: fewer promises and microtasks on the hot path.
 */
export function graphqlRoute(options: GraphqlRouteOptions): (req: IncomingMessage, res: ServerResponse, search: string) => Promise<void> | void {
  const { config, services, apollo, fastPath } = options;
  const corsPassed = corsCheck(config.corsOrigins);
  const untrustedProxy = warnOnce(services);

  /** The request once its body is in: the size of its lists, then the fast path or Apollo Server. */
  const execute = (req: IncomingMessage, res: ServerResponse, search: string, essence: string | undefined, body: unknown): Promise<void> | void => {
    const variables = req.method === 'POST' ? (body as { variables?: unknown } | null)?.variables : variablesOfQueryString(search);
    const tooLong = variables && typeof variables === 'object' ? oversizedList(variables, config.limits.listItems) : undefined;
    if (tooLong) {
      services.metrics.graphqlErrors.inc({ code: 'BAD_USER_INPUT' });
      return sendErrors(res, 400, listLimitMessage(tooLong, config.limits.listItems), 'BAD_USER_INPUT', { limit: config.limits.listItems });
    }
    const scope = requestScope(req, config.limits, services.clock.now());
    // Released once the answer is written or the request failed, on whichever path it ran.
    const release = () => releaseScope(req, scope);
    const fail = (error: unknown): never => {
      release();
      throw error;
    };
    let context: Context;
    let running: Promise<FastAnswer | undefined> | undefined;
    try {
      context = new Context(services, new HttpRequestInfo(req, bearerToken(req.headers.authorization), config.trustProxy, scope, untrustedProxy));
      if (fastPath && req.method === 'POST' && essence === 'application/json') running = fastPath.run(body, req.headers.accept, context);
    } catch (error) {
      return fail(error);
    }
    const apolloAnswers = () => viaApollo(apollo, req, res, search, body, context).then(release, fail);
    if (!running) return apolloAnswers();
    return running.then((answer) => {
      if (!answer) return apolloAnswers();
      try {
        res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body), 'x-content-type-options': 'nosniff', ...(options.closing() ? { connection: 'close' } : {}) });
        res.end(answer.body);
      } finally {
        release();
      }
      return undefined;
    }, fail);
  };

  return (req, res, search) => {
    if (!corsPassed(req, res)) return;
    // A browser asking for the explorer page is not a GraphQL request: Apollo serves the page (or,
    // where it does not, applies the same CSRF rule itself).
    const wantsPage = req.method === 'GET' && /text\/html/i.test(req.headers.accept ?? '');
    if (wantsPage && options.landing) return options.landing(req, res);
    if ((req.method === 'POST' || (req.method === 'GET' && !wantsPage)) && csrfBlocked(req.headers)) return sendErrors(res, 400, CSRF_MESSAGE, 'BAD_REQUEST');
    const essence = mediaEssence(req.headers['content-type']);
    if (req.method !== 'POST') return execute(req, res, search, essence, undefined);
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge(req, res);
    const isJson = isJsonType(essence);
    // The body is parsed as JSON for a JSON media type, else passed on as text (Apollo answers that).
    return readBody(req).then((text) => {
      if (text === undefined) return tooLarge(req, res);
      if (!isJson || text.length === 0) return execute(req, res, search, essence, text);
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        return sendErrors(res, 400, 'The request body is not valid JSON', 'BAD_REQUEST');
      }
      return execute(req, res, search, essence, body);
    });
  };
}

/** Answers 413 and stops reading the rest of an oversized upload (the socket closes after the answer). */
function tooLarge(req: IncomingMessage, res: ServerResponse): void {
  sendErrors(res, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes`, 'BAD_REQUEST', {}, { connection: 'close' });
  req.unpipe();
  req.resume();
}

async function viaApollo(apollo: ApolloServer<Context>, req: IncomingMessage, res: ServerResponse, search: string, body: unknown, context: Context): Promise<void> {
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
}

/**
 * Behind a proxy that TRUST_PROXY does not count, every client shares the proxy's address in the
 * per-client limits. Said once, to the operator who can fix it.
 */
function warnOnce(services: Services): () => void {
  let warned = false;
  return () => {
    if (warned) return;
    warned = true;
    services.logger.warn(
      { variable: 'TRUST_PROXY' },
      'Requests arrive with X-Forwarded-For but TRUST_PROXY=0: every client behind that proxy shares its address in the per-client limits (failed logins, new sessions); set TRUST_PROXY to the number of proxies in front',
    );
  };
}
