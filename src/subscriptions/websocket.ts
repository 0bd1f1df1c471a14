import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config/types.js';
import type { Logger } from '../logger.js';
import { RateLimitedError } from '../errors.js';
import { bearerToken, clientAddressOf } from '../app/request-info.js';
import type { ClientConnections } from './connections.js';
import type { Caller, OperationRunner } from './operations.js';

/**
 * graphql-ws (the `graphql-transport-ws` subprotocol, as Apollo Client's GraphQLWsLink and Apollo
 * Sandbox speak it) on `/graphql`. A browser cannot preflight a WebSocket, so the upgrade gets the
 * checks CORS gives a POST: an Origin that is neither this gateway's nor in CORS_ORIGINS is refused.
 */

export interface WebSocketTransport {
  /** Takes over an upgrade of `/graphql` (after the origin and per-client checks); false when not ours. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every socket (1001); one whose client does not answer the close within `graceMs` is cut. */
  close(graceMs: number): Promise<void>;
}

type Upgraded = IncomingMessage & { clientAddress?: string };

/** Messages larger than this close the socket (a subscribe message is a document and its variables). */
const MAX_MESSAGE_BYTES = 64 * 1024;

export function webSocketTransport(config: Config, runner: OperationRunner, connections: ClientConnections, logger: Logger): WebSocketTransport {
  const limits = config.subscriptions;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const server = useServer<Record<string, unknown> | undefined, { caller: Caller }>(
    {
      connectionInitWaitTimeout: 5_000,
      onConnect: (ctx) => {
        const { request } = ctx.extra;
        ctx.extra.caller = { clientAddress: (request as Upgraded).clientAddress ?? 'unknown', token: tokenOf(ctx.connectionParams, request.headers.authorization) };
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        // The id being subscribed is already counted among the connection's subscriptions.
        if (Object.keys(ctx.subscriptions).length > limits.perConnection) {
          return [new RateLimitedError(10, `This connection already holds ${limits.perConnection} subscriptions (SUBSCRIPTIONS_PER_CONNECTION)`)];
        }
        const prepared = runner.prepare(payload);
        return Array.isArray(prepared) ? prepared : { ...prepared, contextValue: ctx.extra.caller! };
      },
      subscribe: (args: ExecutionArgs) => runner.run(args, args.contextValue as Caller),
    },
    wss,
    12_000,
  );
  // graphql-ws reports a socket's errors (a frame over the size limit, a broken connection) with
  // console.error and a stack: to the log instead, briefly. ws closes the socket itself.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error: Error & { code?: string }) => {
      logger.debug({ errorCode: error.code }, 'a subscription WebSocket failed');
      socket.terminate();
    });
  });

  return {
    upgrade(req, socket, head) {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/graphql') return false;
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigin(origin, req.headers.host, config.corsOrigins)) return refuse(socket, 403), true;
      const clientAddress = clientAddressOf(req, config.trustProxy);
      if (!connections.take(clientAddress)) return refuse(socket, 429), true;
      socket.once('close', () => connections.release(clientAddress));
      // graphql-ws hands the upgrade request to onConnect: the address found here rides along on it.
      (req as Upgraded).clientAddress = clientAddress;
      wss.handleUpgrade(req, socket, head, (client) => wss.emit('connection', client, req));
      return true;
    },
    async close(graceMs) {
      const disposed = server.dispose();
      // A client that stopped reading never completes the closing handshake (ws would wait 30 s).
      const timer = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, graceMs);
      await disposed;
      clearTimeout(timer);
    },
  };
}

/**
 * The session token: `connectionParams.authorization` ("Bearer <token>") as browsers send it;
 * Apollo Router sends the client's Authorization value as `connectionParams.token`, and copies the
 * propagated header onto the upgrade request.
 */
function tokenOf(params: Record<string, unknown> | undefined, header: string | undefined): string | undefined {
  for (const value of [params?.authorization, params?.Authorization, params?.token, header]) {
    if (typeof value === 'string' && value) return bearerToken(value) ?? (/^[\w.~+/=-]+$/.test(value) ? value : undefined);
  }
  return undefined;
}

/** Same origin (the page this gateway served) or one of CORS_ORIGINS. */
export function allowedOrigin(origin: string, host: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function refuse(socket: Duplex, status: 403 | 429): void {
  const text = status === 403 ? 'Forbidden: this origin may not open a WebSocket here (CORS_ORIGINS)' : 'Too Many Requests: too many open connections from this client (SUBSCRIPTION_CONNECTIONS_PER_CLIENT)';
  socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Too Many Requests'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
