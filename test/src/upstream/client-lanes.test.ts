import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import type { SimReply } from '../../../simulators/server.js';
import { RateLimitedError, SwitchboardError, UpstreamTimeoutError } from '../../../src/errors.js';
import { AdaptiveConcurrency } from '../../../src/limits/rate-limiter.js';
import { RequestScope } from '../../../src/limits/request-scope.js';
import { createLogger, SecretRegistry } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics.js';
import { UpstreamClient, type UpstreamCall } from '../../../src/upstream/client.js';
import { EchoSimulator } from '../../helpers/echo-simulator.js';
import { LogCollector } from '../../helpers/gateway.js';

/**
 * UpstreamClient makes a plain JSON read (a body of its own, no headers or auth of its own: Nuveq's
 * User Detail, the hottest vendor call) in one promise, its gate slots given back from undici's
 * callback ("straight"), and every other call through ConcurrencyGate.run and `attempts`. The two
 * must end every call the same way: the same call with one header of its own takes the general
 * path, and each shape of vendor answer below is asked both ways, alone, in a batch, and with the
 * process bound full, comparing what the caller gets, how often the vendor was asked, what the
 * metrics counted, the adaptive limit after it, and how many slots are in use afterwards. Each shape
 * is also asked as a write (never retried), and the ends that come before any answer (the caller
 * gone while queued, the queue full, the deadline passed while queued, a path undici refuses) are
 * asked both ways too.
 */

type Script = Array<SimReply | (() => Promise<SimReply>)>;

/** Each shape: what the vendor answers to the 1st, 2nd, ... attempt (the last repeats). */
const SHAPES: Record<string, Script> = {
  ok: [{ json: { data: { name: 'Ada' } } }],
  'not found': [{ status: 404, json: { error: 'User not found.' } }],
  'server error': [{ status: 500, json: { error: 'boom' } }],
  'bad gateway, then ok': [{ status: 502 }, { json: { ok: 2 } }],
  'unavailable every time': [{ status: 503, text: '<html>down</html>' }],
  'unavailable with Retry-After, then ok': [{ status: 503, headers: { 'retry-after': '0' } }, { json: { ok: 2 } }],
  'throttled, then ok': [{ status: 429, headers: { 'retry-after': '0' } }, { json: { ok: 2 } }],
  'throttled for longer than the deadline': [{ status: 429, headers: { 'retry-after': '30' } }],
  'throttled without Retry-After, then ok': [{ status: 429 }, { json: { ok: 3 } }],
  redirect: [{ status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } }],
  'HTML with 200': [{ text: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } }],
  'too large': [{ text: 'x'.repeat(3 * 1024 * 1024) }],
  'too slow for the deadline': [
    async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return { json: {} };
    },
  ],
  'slow once, then ok': [
    async () => {
      await new Promise((r) => setTimeout(r, 30));
      return { status: 504 };
    },
    { json: { ok: 2 } },
  ],
};

/** What the test's gates end a call with, told apart from every other end by class. */
class QueueFullError extends RateLimitedError {}
class QueueTimeoutError extends UpstreamTimeoutError {}

const LANES = ['plain', 'general'] as const;
type Lane = (typeof LANES)[number];

describe('UpstreamClient: a plain JSON read ends every call as the general path does', () => {
  const sim = new EchoSimulator();
  const logger = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: new LogCollector() });
  const asked = new Map<string, number>();

  beforeAll(async () => {
    for (const [shape, script] of Object.entries(SHAPES)) {
      for (const lane of LANES) {
        for (const mode of ['alone', 'batch', 'queued', 'write']) {
          const path = `/${lane}/${mode}/${encodeURIComponent(shape)}`;
          sim.on('POST', path, async () => {
            const n = (asked.get(path) ?? 0) + 1;
            asked.set(path, n);
            const step = script[Math.min(n, script.length) - 1]!;
            return typeof step === 'function' ? step() : step;
          });
        }
      }
    }
    for (const lane of LANES) {
      sim.on('POST', `/${lane}/edge/ok`, async () => {
        asked.set(`/${lane}/edge/ok`, (asked.get(`/${lane}/edge/ok`) ?? 0) + 1);
        return { json: {} };
      });
    }
    // Holds a process slot for a while (the `queued` mode's first two calls).
    sim.on('GET', '/hold', async () => {
      await new Promise((r) => setTimeout(r, 100));
      return { json: {} };
    });
    await sim.start();
  });
  afterAll(() => sim.stop());

  /** A call of either lane: the general one differs only by a header of its own. */
  const call = (lane: Lane, mode: string, shape: string, extra: Partial<UpstreamCall> = {}): UpstreamCall => ({
    operation: 'lanes.detail',
    method: 'POST',
    path: `/${lane}/${mode}/${encodeURIComponent(shape)}`,
    jsonText: '{"user_id":1}',
    read: true,
    ...(lane === 'general' ? { headers: { 'x-lane': 'general' } } : {}),
    ...extra,
  });

  /** What a caller can tell of how a call ended. */
  const outcome = (p: Promise<{ status: number; text: string }>) =>
    p.then(
      (res) => `status ${res.status}, ${res.text.length} bytes`,
      (error: unknown) => (error instanceof SwitchboardError ? `${error.constructor.name} ${error.code}` : `other ${String(error)}`),
    );

  /** The upstream request counts by outcome, from the metrics text. */
  const counted = async (metrics: Metrics) =>
    (await metrics.registry.metrics())
      .split('\n')
      .filter((line) => line.startsWith('switchboard_upstream_requests_total{') && line.includes('lanes.detail'))
      .sort();

  /** How a call is asked: behind how many holders of the process bound, in a batch or not, and so on. */
  interface Setting {
    /** Calls holding the process bound (2 fill it; a third waits). */
    holders: number;
    batched: boolean;
    read: boolean;
    deadlineMs: number;
    maxQueue: number;
    /** The caller goes once the call is queued. */
    endWhileQueued: boolean;
    /** A path of its own (after the lane) instead of the shape's. */
    path?: string;
    /** The holders hold the call's batch gate too, so that it waits there first. */
    holdBatch?: boolean;
  }

  async function measure(lane: Lane, mode: string, shape: string, setting: Setting) {
    const path = setting.path ? `/${lane}${setting.path}` : `/${lane}/${mode}/${encodeURIComponent(shape)}`;
    asked.delete(path);
    const metrics = new Metrics();
    const concurrency = new AdaptiveConcurrency(2, {
      processMax: 2,
      maxQueue: setting.maxQueue,
      // Classes of their own: an end at the gate tells itself apart from the client's own timeout.
      onFull: () => new QueueFullError(1, 'Too many calls are waiting'),
      onTimeout: () => new QueueTimeoutError('NUVEQ', 'Out of time waiting for a connection'),
    });
    const client = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 1000, metrics, logger, concurrency, maxAttempts: 3 });
    try {
      // As the HTTP front makes it: no signal of its own, ended when the client closes the connection.
      const scope = new RequestScope(undefined, Date.now() + setting.deadlineMs, 10);
      const gate = setting.batched ? concurrency.batch() : undefined;
      const holders = Array.from({ length: setting.holders }, () =>
        client.request({ operation: 'lanes.hold', method: 'GET', path: '/hold', headers: { 'x-hold': '1' }, ...(setting.holdBatch ? { gate } : {}) }).catch(() => undefined),
      );
      const asking = client.request(call(lane, mode, shape, { gate, scope, read: setting.read, path }));
      const waited = (gate?.waiting ?? 0) + concurrency.waiting;
      if (setting.endWhileQueued) scope.end();
      const ended = await outcome(asking);
      await Promise.all(holders);
      const left = gate ? [gate.waiting, concurrency.waiting] : [concurrency.waiting];
      // The slots in use afterwards: of three more calls, as many start as the (adaptive) limit
      // allows and the rest wait at the first bound. A slot kept, or given back twice, shows here.
      const current = concurrency.current;
      const probes = [1, 2, 3].map(() => client.request({ operation: 'lanes.hold', method: 'GET', path: '/hold', headers: { 'x-hold': '1' }, gate }).catch(() => undefined));
      const probed = gate ? [gate.waiting, concurrency.waiting] : [concurrency.waiting];
      await Promise.all(probes);
      return { ended, waited, asked: asked.get(path) ?? 0, counted: await counted(metrics), left, current, probed };
    } finally {
      await client.close();
    }
  }

  const runLane = (lane: Lane, mode: 'alone' | 'batch' | 'queued' | 'write', shape: string) =>
    // Queued: the process bound is full at first, so the call waits its turn, then runs.
    measure(lane, mode, shape, { holders: mode === 'queued' ? 2 : 0, batched: mode === 'batch' || mode === 'queued', read: mode !== 'write', deadlineMs: 800, maxQueue: 10, endWhileQueued: false });

  for (const shape of Object.keys(SHAPES)) {
    for (const mode of ['alone', 'batch', 'queued', 'write'] as const) {
      test(`${shape}, ${mode}`, async () => {
        const [plain, general] = [await runLane('plain', mode, shape), await runLane('general', mode, shape)];
        expect(plain.asked).toBeGreaterThan(0);
        // Queued calls did wait for the process bound.
        expect(plain.waited).toBe(mode === 'queued' ? 1 : 0);
        expect(plain).toEqual(general);
        expect(plain.left.every((n) => n === 0)).toBe(true);
        if (mode === 'write') expect(plain.asked).toBe(1);
        // Both bounds have `current` slots here (processMax is the batch's max).
        expect(plain.probed).toEqual(mode === 'alone' || mode === 'write' ? [3 - plain.current] : [3 - plain.current, 0]);
      }, 20_000);
    }
  }

  /**
   * Ends that come before the vendor answers. The first three are asked with the process bound full
   * of holders (in a batch, also with them holding the batch's gate, so that the call waits there);
   * a path undici refuses never leaves the process.
   */
  const EDGES = {
    'the caller goes while queued': { holders: 2, maxQueue: 10, endWhileQueued: true, deadlineMs: 800, ends: 'ClientGoneError UPSTREAM_UNAVAILABLE' },
    'the queue is full': { holders: 3, maxQueue: 1, endWhileQueued: false, deadlineMs: 800, ends: 'QueueFullError RATE_LIMITED' },
    'the deadline passes while queued': { holders: 2, maxQueue: 10, endWhileQueued: false, deadlineMs: 40, ends: 'QueueTimeoutError UPSTREAM_TIMEOUT' },
    'a path undici refuses': { holders: 0, maxQueue: 10, endWhileQueued: false, deadlineMs: 800, path: '/edge/bad path', ends: 'UpstreamError UPSTREAM_ERROR' },
  } as const;
  const WAITS_AT = ['process', 'batch', 'batch gate'] as const;

  for (const edge of Object.keys(EDGES) as Array<keyof typeof EDGES>) {
    for (const at of WAITS_AT) {
      // The queue-full end is the process queue's, and a refused path never waits.
      if (at === 'batch gate' && (edge === 'the queue is full' || edge === 'a path undici refuses')) continue;
      test(`${edge}${at === 'process' ? '' : at === 'batch' ? ', in a batch' : ', at the batch gate'}: both lanes end it alike, the vendor not asked, every slot back`, async () => {
        const { ends, ...spec } = EDGES[edge];
        const setting = { ...spec, batched: at !== 'process', holdBatch: at === 'batch gate', read: true };
        const [plain, general] = [await measure('plain', 'edge', 'ok', setting), await measure('general', 'edge', 'ok', setting)];
        expect(plain).toEqual(general);
        expect(plain.ended).toBe(ends);
        expect(plain.asked).toBe(0);
        expect(plain.left.every((n) => n === 0)).toBe(true);
        expect(plain.probed).toEqual(at === 'process' ? [3 - plain.current] : [3 - plain.current, 0]);
        // One call waits: ours, or (queue full) the third holder.
        expect(plain.waited).toBe(spec.holders > 0 ? 1 : 0);
        if (edge === 'a path undici refuses') {
          // Refused in the process, before any connection, and not asked again: one error counted.
          expect(plain.counted).toEqual([expect.stringMatching(/outcome="error"\} 1$/)]);
        }
      }, 20_000);
    }
  }

  test('a vendor that refuses connections: both retry, then UPSTREAM_UNAVAILABLE', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolvePort) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as { port: number };
        probe.close(() => resolvePort(p));
      });
    });
    const ends: string[] = [];
    for (const lane of LANES) {
      const concurrency = new AdaptiveConcurrency(2);
      const client = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000, metrics: new Metrics(), logger, concurrency, maxAttempts: 3 });
      try {
        ends.push(await outcome(client.request(call(lane, 'alone', 'refused'))));
        expect(concurrency.waiting).toBe(0);
      } finally {
        await client.close();
      }
    }
    expect(ends[0]).toMatch(/^UpstreamUnavailableError/);
    expect(ends[0]).toBe(ends[1]);
  });
});
