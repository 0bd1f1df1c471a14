import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/**
 * Tools of the abuse suite: what an attacker or an unlucky operator does to the gateway, and the
 * readings that tell whether it held (heap after a forced GC, answer times, raw sockets).
 */

/** Heap in use after a full, forced collection (jest runs with --expose-gc). */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run test:jest does)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

export const MB = 1024 * 1024;

/** POSTs a body as given (any content type), for requests fetch would shape or refuse. */
export function post(url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/graphql`, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends one GraphQL POST on a raw socket and closes it `closeAfterMs` later without reading the
 * answer: a client that gave up (a closed tab, a timed-out script).
 */
export function abandon(url: string, body: string, closeAfterMs: number, headers: Record<string, string> = {}): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      const head = [`POST /graphql HTTP/1.1`, `host: ${hostname}:${port}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, closeAfterMs);
    });
    socket.on('error', () => resolve());
  });
}

/** How long one request takes, in ms. */
export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

export interface Answer {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** A GraphQL request as if from `address` (for a gateway started with TRUST_PROXY=1). */
export async function asClient(url: string, address: string, query: string, token?: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Answer;
}
