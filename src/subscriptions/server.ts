import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GraphQLError, GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Config } from '../config/types.js';
import type { Services } from '../graphql/context.js';
import { ClientConnections } from './connections.js';
import { OperationRunner } from './operations.js';
import { sseTransport } from './sse-transport.js';
import { webSocketTransport } from './websocket.js';

/**
 * GraphQL subscriptions on the gateway's own server, over both transports: graphql-ws on
 * `/graphql` (an upgrade) and graphql-sse on `/graphql/stream`. They share one runner (checks,
 * contexts, the session watch, the per-session cap) and one count of connections per client.
 */
export interface SubscriptionServerOptions {
  config: Config;
  schema: GraphQLSchema;
  services: Services;
  rules: ValidationRule[];
  format: (error: GraphQLError) => GraphQLFormattedError;
}

export interface SubscriptionServer {
  /** Takes over a WebSocket upgrade of `/graphql`; false when the request is not one of ours. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Serves `/graphql/stream` (after CORS). */
  sse(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Live subscriptions now, both transports. */
  readonly size: number;
  /** Ends every subscription and closes every WebSocket (the gateway stops). */
  close(): Promise<void>;
}

export function createSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const runner = new OperationRunner(options);
  const connections = new ClientConnections(options.config.subscriptions.connectionsPerClient);
  const ws = webSocketTransport(options.config, runner, connections, options.services.logger);
  const sse = sseTransport(options.config, runner, connections);
  return {
    upgrade: (req, socket, head) => ws.upgrade(req, socket, head),
    sse: (req, res) => sse.handle(req, res),
    get size() {
      return runner.size;
    },
    async close() {
      // From now on no new event stream is taken; the ones open end with their subscriptions.
      const streamsDone = sse.close(2000);
      await runner.close();
      await Promise.all([ws.close(1000), streamsDone]);
    },
  };
}
