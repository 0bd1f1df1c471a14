import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';

/**
 * Loaded into a gateway of its own by `npm run bench` (NODE_OPTIONS=--import), for requests sent
 * one at a time: where a request's time goes inside the gateway. From its arrival (the server's
 * `request` event) to its first vendor call, the vendor calls (the first sent to the last answer
 * read), and from that answer to the answer written (`res.end`). A vendor call counts for the
 * request that arrived last, which is right only when requests come one at a time.
 *
 * On SIGUSR2 it writes, to PHASES_FILE, the means over the requests since the last signal that made
 * exactly PHASES_CALLS vendor calls (and the median and 90th percentile of their whole time), and
 * starts afresh.
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

const dispatch = Pool.prototype.dispatch;
Pool.prototype.dispatch = function (this: Pool, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
  const request = current;
  if (request) {
    request.calls++;
    request.firstSent ??= performance.now();
    const ended = handler.onResponseEnd;
    if (ended) {
      handler.onResponseEnd = function (this: Dispatcher.DispatchHandler, ...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>) {
        request.lastRead = performance.now();
        return ended.apply(this, args);
      };
    }
  }
  return dispatch.call(this, options, handler);
};

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'request') {
    const request: Timed = { arrived: performance.now(), calls: 0 };
    current = request;
    timed.push(request);
    const res = args[1] as ServerResponse<IncomingMessage>;
    const end = res.end;
    res.end = function (this: ServerResponse, ...endArgs: unknown[]) {
      request.written ??= performance.now();
      return (end as (...a: unknown[]) => ServerResponse).apply(this, endArgs);
    } as typeof res.end;
  }
  return (emit as (event: string | symbol, ...rest: unknown[]) => boolean).call(this, event, ...args);
} as typeof http.Server.prototype.emit;

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
