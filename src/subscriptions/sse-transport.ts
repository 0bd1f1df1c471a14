import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import { createHandler, type Request } from 'graphql-sse';
import type { Config } from '../config/types.js';
import { isJsonType, mediaEssence } from '../app/request-checks.js';
import { bearerToken, clientAddressOf, MAX_BODY_BYTES, readBody } from '../app/request-info.js';
import { sendErrors } from '../app/respond.js';
import type { ClientConnections } from './connections.js';
import type { Caller, OperationRunner } from './operations.js';

/**
 * GraphQL over server-sent events (the graphql-sse protocol, distinct-connections mode) on
 * `/graphql/stream`: one subscription per request, `Authorization: Bearer <token>`. The request
 * passes the same pipeline as a POST to /graphql (CORS before this, then the media type and a
 * bounded body here), and the answer is written no faster than the client reads: the library's
 * queue waits for the socket to drain, so a stalled reader holds one event, not a backlog.
 */

type Raw = IncomingMessage;
interface RequestContext {
  res: ServerResponse;
}

export interface SseTransport {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** After the subscriptions ended: streams whose client does not read their last answer within `graceMs` are cut. */
  close(graceMs: number): Promise<void>;
}

export function sseTransport(config: Config, runner: OperationRunner, connections: ClientConnections): SseTransport {
  const streaming = new Set<ServerResponse>();
  let closing = false;
  const handler = createHandler<Raw, RequestContext, Caller & Record<PropertyKey, unknown>>({
    // No tokens: the single-connection mode (reservations held until a client comes) is not offered.
    authenticate: () => null as never,
    onSubscribe: (req, params) => {
      const prepared = runner.prepare(params);
      if (Array.isArray(prepared)) return refused(prepared);
      const caller: Caller = { token: bearerToken(req.headers.get('authorization') ?? undefined), clientAddress: clientAddressOf(req.raw, config.trustProxy) };
      return { ...prepared, contextValue: caller as Caller & Record<PropertyKey, unknown> };
    },
    subscribe: (args: ExecutionArgs) => runner.run(args, args.contextValue as Caller),
    // Backpressure: the next result is not taken from the subscription until the socket drained.
    onNext: async (_ctx, req) => {
      await drained(req.context.res);
    },
  });

  return {
    async handle(req, res) {
      // Stopping: no new subscription (one would hold the shutdown until its drain timeout).
      if (closing) return sendErrors(res, 503, 'The gateway is stopping; connect again shortly', 'UPSTREAM_UNAVAILABLE', {}, { connection: 'close' });
      const request = await readRequest(req, res);
      if (!request) return;
      const clientAddress = clientAddressOf(req, config.trustProxy);
      if (!connections.take(clientAddress)) {
        return sendErrors(res, 429, 'Too many open streams from this client (SUBSCRIPTION_CONNECTIONS_PER_CLIENT)', 'RATE_LIMITED', { retryAfter: 10 });
      }
      streaming.add(res);
      res.once('close', () => {
        connections.release(clientAddress);
        streaming.delete(res);
      });
      const [body, init] = await handler({ ...request, context: { res } });
      res.writeHead(init.status, init.statusText, { ...init.headers, 'x-content-type-options': 'nosniff' });
      if (body === null || typeof body === 'string') return void res.end(body ?? undefined);
      await pipe(body, res);
    },
    async close(graceMs) {
      closing = true;
      const deadline = Date.now() + graceMs;
      while (streaming.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const res of streaming) res.destroy();
    },
  };
}

/**
 * A request error as graphql-sse sends it (one `next`, then `complete`). The library knows a
 * result by its `data` key; a request error has none on the wire, so the key is not enumerable.
 */
function refused(errors: readonly GraphQLError[]): ExecutionResult {
  return Object.defineProperty({ errors }, 'data', { value: undefined, enumerable: false }) as ExecutionResult;
}

/** The request as graphql-sse reads it, or undefined after answering what it may not be. */
async function readRequest(req: IncomingMessage, res: ServerResponse): Promise<Request<Raw, RequestContext> | undefined> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.setHeader('allow', 'GET, POST');
    return void sendErrors(res, 405, 'Subscriptions over server-sent events are GET or POST requests', 'BAD_REQUEST');
  }
  if (!/text\/event-stream/i.test(req.headers.accept ?? '')) {
    return void sendErrors(res, 406, 'This endpoint streams subscriptions: send Accept: text/event-stream', 'BAD_REQUEST');
  }
  let body: unknown;
  if (req.method === 'POST') {
    if (!isJsonType(mediaEssence(req.headers['content-type']))) return void sendErrors(res, 415, 'Send the subscription as application/json', 'BAD_REQUEST');
    const text = Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES ? undefined : await readBody(req);
    if (text === undefined) {
      sendErrors(res, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes`, 'BAD_REQUEST', {}, { connection: 'close' });
      req.resume();
      return undefined;
    }
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return void sendErrors(res, 400, 'The request body is not valid JSON', 'BAD_REQUEST');
    }
  }
  const headers = req.headers;
  return {
    method: req.method,
    url: req.url ?? '/',
    // graphql-sse compares the accept header as a whole; any list naming event streams asks for one.
    headers: { get: (key: string) => (key === 'accept' ? 'text/event-stream' : key === 'content-type' && body !== undefined ? 'application/json' : joined(headers[key])) },
    body: (body as Record<string, unknown> | undefined) ?? null,
    raw: req,
    context: undefined as never,
  };
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A client that has read nothing of what was written for this long is gone: its stream is cut. */
const STALLED_MS = 60_000;

/** Resolves once `res` may take more (drained) or is gone; a reader stalled past STALLED_MS is cut. */
function drained(res: ServerResponse): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const stalled = setTimeout(() => res.destroy(), STALLED_MS);
    const done = () => {
      clearTimeout(stalled);
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes the event stream as the client reads it; a client that leaves ends the subscription. */
async function pipe(body: AsyncGenerator<string>, res: ServerResponse): Promise<void> {
  const leave = () => void body.return(undefined);
  res.once('close', leave);
  try {
    for await (const chunk of body) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await drained(res);
    }
  } finally {
    res.off('close', leave);
    if (!res.destroyed) res.end();
  }
}
