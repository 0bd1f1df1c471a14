import { Pool } from 'undici';

/**
 * What the upstream alone costs, with no server in between: one undici pool on the server's core
 * calling the Nuveq simulator directly, one call at a time and in fan-outs of 50 distinct users at
 * NUVEQ_CONCURRENCY's default of 8 in flight. B's "time per request" cannot go below the fan-out
 * plus one client round trip, whatever the gateway does. Prints one JSON line and exits.
 */

const upstream = new URL(process.env.NUVEQ_URL!);
const pool = new Pool(upstream.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
const base = { port: process.env.NUVEQ_PORT!, api_id: Number(process.env.NUVEQ_API_ID), token_key: process.env.NUVEQ_TOKEN_KEY! };
const seconds = Number(process.env.FLOOR_SECONDS ?? 5);

async function call(userId: number): Promise<void> {
  const res = await pool.request({ method: 'POST', path: upstream.pathname, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...base, user_id: userId }) });
  const text = await res.body.text();
  // The same ids as B, unknown ones (every fifth) included: those answer "User not found.".
  if (res.statusCode !== 200 || !/^\{"(data|error)":/.test(text)) throw new Error(`unexpected answer ${res.statusCode}: ${text.slice(0, 80)}`);
}

async function fanOut(n: number, inFlight: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await call(1001 + next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, inFlight) }, worker));
}

async function msPer(fn: () => Promise<void>): Promise<number> {
  const warm = performance.now();
  while (performance.now() - warm < 1000) await fn();
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await fn();
    count++;
  }
  return (performance.now() - started) / count;
}

const one = await msPer(() => call(1001));
const fifty = await msPer(() => fanOut(50, 8));
process.stdout.write(`${JSON.stringify({ oneCallMs: one, fiftyCallsMs: fifty })}\n`);
await pool.close();
process.exit(0);
