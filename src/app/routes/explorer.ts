import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExplorerChoice } from '../../config/types.js';
import { ExplorerAssets } from '../explorer/assets.js';
import { LOCAL_CSP, localPageHtml, SANDBOX_CSP, sandboxPageHtml, type ExplorerPageOptions } from '../explorer/pages.js';
import { sendJson } from '../respond.js';

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export const ASSET_PREFIX = '/explorer/assets/';

export interface ExplorerRoutes {
  /** `/` and `/explorer`. */
  pages: Record<string, Route>;
  /** Everything under ASSET_PREFIX. */
  assets: Route;
  /** What a browser opening /graphql gets (the page at `/`), outside production. */
  landing?: Route;
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 404, { error: 'Not found; the GraphQL endpoint is /graphql' });
}

function html(res: ServerResponse, req: IncomingMessage, body: string, csp: string): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'content-security-policy': csp,
    // The demo's page carries a session token: never cached, never sent on as a referrer.
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The explorer (outside production): `/` opens Apollo Sandbox (falling back to the local explorer)
 * or, with EXPLORER=local, the local explorer itself; `/explorer` is always the local one; its
 * files are under /explorer/assets/, named by content hash. In production: 404s, nothing loaded.
 */
export function explorerRoutes(production: boolean, choice: ExplorerChoice, options: () => Omit<ExplorerPageOptions, 'assets' | 'choice'>): ExplorerRoutes {
  if (production) return { pages: { '/': notFound, '/explorer': notFound }, assets: notFound };
  const assets = new ExplorerAssets();
  const opts = () => ({ ...options(), assets, choice });
  const get = (route: Route): Route => (req, res) => (req.method === 'GET' || req.method === 'HEAD' ? route(req, res) : sendJson(res, 405, { error: 'Use GET' }, { allow: 'GET, HEAD' }));
  const local = get((req, res) => html(res, req, localPageHtml(opts()), LOCAL_CSP));
  const landing = choice === 'local' ? local : get((req, res) => html(res, req, sandboxPageHtml(opts()), SANDBOX_CSP));
  return {
    pages: { '/': landing, '/explorer': local },
    landing,
    assets: get(async (req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const file = await assets.get(path, req.headers['accept-encoding']);
      if (!file) return notFound(req, res);
      const headers: Record<string, string | number> = {
        'content-type': file.type,
        'cache-control': 'public, max-age=31536000, immutable',
        etag: file.etag,
        vary: 'accept-encoding',
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers).end();
        return;
      }
      if (file.encoding) headers['content-encoding'] = file.encoding;
      headers['content-length'] = file.body.length;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
    }),
  };
}
