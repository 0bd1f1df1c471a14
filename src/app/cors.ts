import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/**
 * CORS for the GraphQL endpoints (CORS_ORIGINS): answers preflights itself and sets the response
 * headers of the rest. Returns a check that is false when it answered the request (a preflight).
 * Without configured origins only same-origin pages may call (no CORS headers at all).
 */
export function corsCheck(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (origins.length === 0) return () => true;
  const handler = cors({ origin: [...origins], methods: ['GET', 'POST'], allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name'], maxAge: 600 });
  return (req, res) => {
    let next = false;
    handler(req, res, () => (next = true));
    return next;
  };
}
