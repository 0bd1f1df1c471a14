import { createServer } from 'node:http';
import { Pool } from 'undici';

/**
 * The ceiling: a bare node:http server that forwards to the same Nuveq simulator with undici and
 * passes the answer through. No GraphQL, no sessions, no metrics, no logging.
 *
 *   POST /user   {"userId": "1001"}                 one User Detail call
 *   POST /users  {"userIds": ["1001", ...]}         one call per distinct id, in parallel
 */

const upstream = new URL(process.env.NUVEQ_URL!);
const pool = new Pool(upstream.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
const base = { port: process.env.NUVEQ_PORT!, api_id: Number(process.env.NUVEQ_API_ID), token_key: process.env.NUVEQ_TOKEN_KEY! };

async function detail(userId: string): Promise<string> {
  const res = await pool.request({
    method: 'POST',
    path: upstream.pathname,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...base, user_id: Number(userId) }),
  });
  return res.body.text();
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { userId?: string; userIds?: string[] };
    const work = req.url === '/users' ? Promise.all([...new Set(body.userIds)].map(detail)).then((all) => `{"data":[${all.join(',')}]}`) : detail(body.userId!).then((one) => `{"data":${one}}`);
    work.then(
      (text) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(text);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
