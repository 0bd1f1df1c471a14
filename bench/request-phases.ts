import { subscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';

/**
 * Loaded into a gateway of its own by `npm run bench` (NODE_OPTIONS=--import), for requests sent
 * one at a time: where a request's time goes inside the gateway. From its arrival (node's
 * `http.server.request.start` channel, as bench/async-count.ts counts requests) to its first vendor
 * call (undici's `undici:request:create`), the vendor calls (to the last answer read, undici's
 * `undici:request:trailers`), and from that answer to the answer written (`res.end`). A vendor call
 * counts for the request that arrived last, which is right only when requests come one at a time.
 *
 * On SIGUSR2 it writes, to PHASES_FILE, the means over the requests since the last signal that made
 * exactly PHASES_CALLS vendor calls (and the median and 90th percentile of their whole time), and
 * starts afresh. What it keeps grows by one entry per request until then: a bench run signals every
 * few seconds.
 */

const file = process.env.PHASES_FILE;
const expected = Number(process.env.PHASES_CALLS);
if (!file || !(expected > 0)) throw new Error('PHASES_FILE names where the phases go, PHASES_CALLS how many vendor calls a request makes');

interface Timed {
  arrived: number;
  calls: number;
  firstSent?: number;
  lastRead?: number;
  written?: number;
}

let current: Timed | undefined;
let timed: Timed[] = [];

subscribe('http.server.request.start', (message) => {
  const request: Timed = { arrived: performance.now(), calls: 0 };
  current = request;
  timed.push(request);
  const res = (message as { response: ServerResponse }).response;
  const end = res.end;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    request.written ??= performance.now();
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.end;
});
subscribe('undici:request:create', () => {
  if (!current) return;
  current.calls++;
  current.firstSent ??= performance.now();
});
subscribe('undici:request:trailers', () => {
  if (current) current.lastRead = performance.now();
});

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)] ?? 0;

process.on('SIGUSR2', () => {
  const whole = timed.filter((t): t is Required<Timed> => t.calls === expected && t.firstSent !== undefined && t.lastRead !== undefined && t.written !== undefined);
  const totals = whole.map((t) => t.written - t.arrived);
  writeFileSync(
    file,
    JSON.stringify({
      requests: whole.length,
      // Means, so that the phases add up and compare with the client's time per request (a mean).
      beforeMs: mean(whole.map((t) => t.firstSent - t.arrived)),
      callsMs: mean(whole.map((t) => t.lastRead - t.firstSent)),
      afterMs: mean(whole.map((t) => t.written - t.lastRead)),
      totalMs: mean(totals),
      // The spread of the whole: a long tail of slow requests moves the mean well above the median.
      totalMedianMs: quantile(totals, 0.5),
      totalP90Ms: quantile(totals, 0.9),
    }),
  );
  timed = [];
  current = undefined;
});
