import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../respond.js';

/** `GET /`: the explorer page outside production; in production, a pointer to /graphql. */
export function explorerRoute(production: boolean, page: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (!production && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page());
      return;
    }
    sendJson(res, 404, { error: 'Not found; the GraphQL endpoint is /graphql' });
  };
}
