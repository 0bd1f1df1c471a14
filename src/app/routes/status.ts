import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../../metrics.js';
import { sendJson } from '../respond.js';

export interface StatusOptions {
  demo: boolean;
  metrics: Metrics;
  /** Whether the gateway serves and its shared state answers. */
  ready: () => Promise<boolean>;
}

/** `/health` (the process runs), `/ready` (it serves; Redis, if any, answers) and `/metrics` (Prometheus). */
export function statusRoutes(options: StatusOptions): Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void> {
  const { metrics } = options;
  return {
    '/health': (_req, res) => sendJson(res, 200, { status: 'ok', demo: options.demo }),
    '/ready': async (_req, res) => {
      const up = await options.ready().catch(() => false);
      metrics.sessionStoreUp.set(up ? 1 : 0);
      sendJson(res, up ? 200 : 503, { status: up ? 'ready' : 'not ready' });
    },
    '/metrics': async (_req, res) => {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
    },
  };
}
