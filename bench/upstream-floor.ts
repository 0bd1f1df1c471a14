import { Pool } from 'undici';
import { buildServices, createGatewayLogger } from '../src/app/services.js';
import { loadConfig } from '../src/config/load.js';
import { RequestScope } from '../src/limits/request-scope.js';
import { VENDORS } from '../src/vendors/registry.js';
import { nuveq } from '../datasources/nuveq/index.js';
import type { NuveqUserRecord } from '../datasources/nuveq/user.js';

/**
 * What the upstream alone costs, with no server in between: one undici pool on the server's core
 * calling the Nuveq simulator directly, one call at a time and in fan-outs of 50 distinct users at
 * NUVEQ_CONCURRENCY's default of 8 in flight. B's "time per request" cannot go below the fan-out
 * plus one client round trip, whatever the gateway does. B's own 100 ids through Switchboard's
 * vendor stack alone (see `vendorStack`) are timed in blocks alternating with the fan-outs', so
 * that B's time splits into the calls, what the stack adds to them, and the request around them.
 * Prints one JSON line and exits.
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

/** Runs `fn` over and over for `ms`: the time spent and how many times it ran. */
async function block(fn: () => Promise<void>, ms: number): Promise<{ spent: number; runs: number }> {
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < ms) {
    await fn();
    runs++;
  }
  return { spent: performance.now() - started, runs };
}

/** ms per run of `fn`, over `seconds` after a second to warm it. */
async function msPer(fn: () => Promise<void>): Promise<number> {
  await block(fn, 1000);
  const { spent, runs } = await block(fn, seconds * 1000);
  return spent / runs;
}

/**
 * B's ids (1001-1050, twice) through the stack the gateway builds (its configuration, services and
 * Nuveq client) with no HTTP request or GraphQL around it: the datasource's list read (each distinct
 * id loaded once, the repeats answered from it), the per-request DataLoader, coalescing,
 * the batch and process gates, UpstreamClient, each answer read into a user. Anonymous reads are
 * allowed here: B's request checks its session once, not per call.
 */
function vendorStack(): () => Promise<void> {
  const config = loadConfig({ ...process.env, NUVEQ_ALLOW_ANONYMOUS: 'true' });
  const services = buildServices({ config, modules: VENDORS, logger: createGatewayLogger(config, VENDORS) });
  const client = services.vendors.get(nuveq.key)!.client as Parameters<typeof nuveq.forRequest>[0];
  const ids = Array.from({ length: 50 }, (_, i) => String(1001 + i));
  const hundred = [...ids, ...ids];
  return async () => {
    const scope = new RequestScope(undefined, Date.now() + config.limits.requestTimeoutMs, config.limits.vendorCallsPerRequest);
    const users = nuveq.forRequest(client, { services, clientAddress: '127.0.0.1', scope, session: () => Promise.resolve(undefined) });
    const answers = await users.users(hundred);
    // Every fifth id is unknown (null); the rest are users, in the order asked, the repeats the same.
    const first = answers[0] as NuveqUserRecord | null;
    if (answers.length !== 100 || answers.some((a) => a instanceof Error) || first?.userId !== '1001' || answers[4] !== null || answers[50] !== first) {
      throw new Error('the vendor stack answered B wrongly');
    }
  };
}

/**
 * Two measurements in alternating blocks of about a second each, the order swapped each time: the
 * machine's speed drifts by more over a few seconds than the stack differs from the bare calls, so
 * one block of seconds after the other compares the drift as much as the code. Not interleaved call
 * by call: in one process each would then pay part of the other's garbage collection, which pulls
 * the two towards each other (the floor measured that way was 3-29% slower than in blocks).
 */
async function msPerEach(a: () => Promise<void>, b: () => Promise<void>): Promise<[number, number]> {
  const fns = [a, b];
  const spent = [0, 0];
  const runs = [0, 0];
  await block(a, 1000);
  await block(b, 1000);
  for (let k = 0; k < 2 * seconds; k++) {
    for (const i of k % 2 === 0 ? [0, 1] : [1, 0]) {
      const timed = await block(fns[i]!, 1000);
      spent[i]! += timed.spent;
      runs[i]! += timed.runs;
    }
  }
  return [spent[0]! / runs[0]!, spent[1]! / runs[1]!];
}

const one = await msPer(() => call(1001));
const [fifty, stack] = await msPerEach(() => fanOut(50, 8), vendorStack());
process.stdout.write(`${JSON.stringify({ oneCallMs: one, fiftyCallsMs: fifty, stackMs: stack })}\n`);
await pool.close();
process.exit(0);
