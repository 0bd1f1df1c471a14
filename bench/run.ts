import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { chartSvg, type ChartInput } from './chart.js';
import { compareBuilds, cpuSeconds, DRIVER_CORE, onlyOptions, option, pinned, pinSelf, SERVER_CORE, serverNodeFlags, type Role } from './machine.js';
import { appendHistory } from './history.js';
import { launch, stopAll, stopAllOnSignals, type Launched } from './launch.js';
import { GATEWAY_ENV, KNOWN_USERS, LOGIN, READY, USER_QUERY } from './workload-a.js';
import { runSubscriberBench, type SubscriberBenchResult } from './subscriptions.js';

/**
 * `npm run bench`: the gateway (production mode, sessions, metrics, rate limiting, info logging)
 * beside a bare node:http + undici proxy on the same simulated upstream, each in its own process,
 * interleaved in rounds, every sampled answer checked before it counts.
 *
 * Options: --rounds N (3), --duration S (10), --warmup S (1), --latency MS (0), --label TEXT, --skip-d, --d-seconds S (90),
 *          --only A,B,C,D,E,M,S (all; A, B and P always run, as the hot path's measurement, so it selects C, D, E, M and S),
 *          --no-apollo (skip the Apollo Server contenders in A),
 *          --compare 'NAME=path/to/dist/src/app/main.js [node flags]' (repeatable: another build of the gateway in A's
 *          rounds, e.g. the commit before a change, or the same one with other Node flags), --no-traced (skip A with tracing on),
 *          --node-flags 'FLAGS' (every server, the gateway and the alternatives, run with these Node flags),
 *          --render bench/results/<run>.json (measure nothing: write latest.json, latest.md and chart.svg from a stored run),
 *          --out DIR (write the results there instead of bench/results)
 */

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIST = resolve(ROOT, 'dist');
/** Where results go: bench/results unless `--out DIR` (a test's scratch directory, say). */
const OUT = resolve(option('out', resolve(ROOT, 'bench/results')));

onlyOptions(['out', 'rounds', 'duration', 'warmup', 'latency', 'label', 'd-seconds', 'only', 'compare', 'node-flags', 'render'], ['skip-d', 'no-traced', 'no-apollo']);
const ROUNDS = Number(option('rounds', '3'));
const DURATION = Number(option('duration', '10'));
/**
 * Seconds of the same load, not counted, before each measured run of A, B and E. Between its rounds
 * a server idles for the others' (about 40 s in A), and its first second back costs up to twice
 * the CPU per request of the seconds after it, the gateway more than the proxy, while V8 optimizes
 * again code it deoptimized during the idle (README, "A server that has been idle"). The targets
 * compare steady rates, so that second is not counted.
 */
const WARMUP = Number(option('warmup', '1'));
if (!(WARMUP >= 0)) throw new Error(`--warmup takes seconds (0 or more), not ${option('warmup', '1')}`);
const LATENCY = Number(option('latency', '0'));
const LABEL = option('label', 'run');
const D_SECONDS = Number(option('d-seconds', '90'));
const ONLY = new Set(option('only', 'A,B,C,D,E,M,S').split(',').map((w) => w.trim().toUpperCase()));
const SKIP_D = process.argv.includes('--skip-d') || !ONLY.has('D');
const TRACED = !process.argv.includes('--no-traced');
const APOLLO = !process.argv.includes('--no-apollo');
/** Other gateway builds to run in A's rounds, by name. */
const COMPARE = compareBuilds();
const NODE_FLAGS = serverNodeFlags();

pinSelf();
stopAllOnSignals();

/** Starts a node script in its role (bench/launch.ts), resolving with its first JSON line or a line matching `ready`. */
function start(script: string, args: string[], env: Record<string, string>, role: Role, ready?: RegExp, ownFlags: string[] = []): Promise<Launched> {
  return launch(script, { env, role, args, ready, ownFlags });
}

/** An OTLP/HTTP receiver that takes every export and keeps nothing (A with tracing on sends here). */
async function otlpSink(): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  let spans = 0;
  const server = createServer((req, res) => {
    req.on('data', () => void spans++);
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Each core's busy and total time so far (clock ticks) by core number, from the kernel's own accounting. */
function coreTicks(): Map<string, { busy: number; total: number }> {
  const ticks = new Map<string, { busy: number; total: number }>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    // guest time is already inside user and nice; steal (the hypervisor's) is time the core was
    // neither ours to use nor idle, so it counts in the total only.
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2]!.trim().split(/\s+/).map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq!;
    ticks.set(m[1]!, { busy, total: busy + idle! + iowait! + (steal ?? 0) });
  }
  return ticks;
}

/**
 * How busy the server's core and the load generator's core (autocannon and the simulators) were
 * between two readings: a server whose own core was not busy while the generator's was, was held
 * back by the generator, and its req/s is partly the harness's limit.
 */
function coresBusy(before: Map<string, { busy: number; total: number }> | undefined): { server: number; driver: number } | undefined {
  if (!before) return undefined;
  const after = coreTicks();
  const busy = (core: string) => {
    const a = after.get(core);
    const b = before.get(core);
    return a && b && a.total > b.total ? round((a.busy - b.busy) / (a.total - b.total), 2) : undefined;
  };
  const server = busy(SERVER_CORE);
  const driver = busy(DRIVER_CORE);
  return server === undefined || driver === undefined ? undefined : { server, driver };
}

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Wall-clock time per request per connection: with one connection, the time one request takes. */
  msPerRequest: number;
  cpuUsPerRequest: number;
  /** Busy fraction of the server's core and of the load generator's, when pinned. */
  cores?: { server: number; driver: number };
  checked: number;
  bad: number;
  non2xx: number;
  errors: number;
}

interface LoadSpec {
  url: string;
  path: string;
  body: string;
  /** Bodies sent in turn instead of `body` (so that requests in flight together ask for different things). */
  bodies?: string[];
  /** Pick from `bodies` at random instead of in turn. */
  random?: boolean;
  headers?: Record<string, string>;
  connections?: number;
  duration: number;
  overallRate?: number;
  pid: number;
  /** True when the answer body is right. */
  check: (status: number, body: string) => boolean;
  sampleEvery?: number;
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  let seen = 0;
  let checked = 0;
  let bad = 0;
  const sampleEvery = spec.sampleEvery ?? 10;
  const bodies = spec.bodies;
  let turn = 0;
  const cpuBefore = cpuSeconds(spec.pid);
  const ticksBefore = pinned ? coreTicks() : undefined;
  const started = performance.now();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections ?? 50,
    duration: spec.duration,
    overallRate: spec.overallRate,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: spec.path,
        headers: { 'content-type': 'application/json', ...spec.headers },
        body: spec.body,
        ...(bodies ? { setupRequest: (req: autocannon.Request) => ({ ...req, body: bodies[spec.random ? Math.floor(Math.random() * bodies.length) : turn++ % bodies.length]! }) } : {}),
        onResponse: (status: number, body: string) => {
          if (seen++ % sampleEvery !== 0) return;
          checked++;
          if (!spec.check(status, body)) bad++;
        },
      },
    ],
  });
  const cpu = cpuSeconds(spec.pid) - cpuBefore;
  const cores = coresBusy(ticksBefore);
  const elapsedMs = performance.now() - started;
  const requests = result.requests.total;
  return {
    requests,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // autocannon's latency histogram counts whole milliseconds, too coarse for sub-millisecond requests.
    msPerRequest: requests ? (elapsedMs * (spec.connections ?? 50)) / requests : 0,
    cpuUsPerRequest: requests ? (cpu * 1e6) / requests : 0,
    cores,
    checked,
    bad,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Runs `spec`'s load for WARMUP seconds and drops the result (see WARMUP). */
async function warm(spec: Omit<LoadSpec, 'duration'>): Promise<void> {
  if (WARMUP > 0) await load({ ...spec, duration: WARMUP });
}

async function stats(control: string): Promise<Record<string, any>> {
  return (await fetch(`${control}/__sim/stats`)).json() as Promise<Record<string, any>>;
}

async function reset(control: string): Promise<void> {
  await fetch(`${control}/__sim/reset`, { method: 'POST' });
}

async function gql(url: string, query: string, token?: string): Promise<any> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return res.json();
}

/** A session token for `url`'s gateway (the demo client ada). */
async function sessionToken(url: string): Promise<string> {
  return (await gql(url, LOGIN)).data.loginClient.token as string;
}

/** Exactly `amount` POSTs of one body, one at a time (for counting, not timing). */
function sendExactly(spec: { url: string; path: string; body: string; headers?: Record<string, string> }, amount: number): ReturnType<typeof autocannon> {
  return autocannon({ url: spec.url, connections: 1, amount, requests: [{ method: 'POST', path: spec.path, headers: { 'content-type': 'application/json', ...spec.headers }, body: spec.body }] });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
/** The median and range of per-round figures, rounded to `d` places. */
const spread = (xs: number[], d: number) => ({ median: round(median(xs), d), min: round(Math.min(...xs), d), max: round(Math.max(...xs), d) });

/** C and D log in many times from the load generator's one address: lift the per-address caps on new sessions. */
const ONE_ADDRESS = { SESSIONS_NEW_PER_CLIENT: '1000', SESSIONS_MAX_PER_CLIENT: '100000' };

function check(pred: (data: any) => boolean) {
  return (status: number, body: string) => {
    if (status !== 200) return false;
    try {
      const parsed = JSON.parse(body) as { data?: any; errors?: unknown };
      return !parsed.errors && pred(parsed.data);
    } catch {
      return false;
    }
  };
}

/** What a gateway made per request, by kind of asynchronous resource (async_hooks' `init`). */
interface AsyncCounts {
  promises: number;
  ticks: number;
  timers: number;
  immediates: number;
  all: number;
}

const asyncLine = (x: AsyncCounts) => `${x.promises} promises, ${x.ticks} nextTicks, ${x.timers} timers, ${x.immediates} immediates (${x.all} in all)`;

/** A gateway of its own with a bench hook loaded, logged in, that reports what it measured on SIGUSR2. */
interface HookedGateway {
  send(spec: { path: string; body: string }, amount: number): ReturnType<typeof autocannon>;
  /** Requests one at a time for `seconds`; what the client saw per request (autocannon's `amount` ends on its next whole-second tick, so this is timed by duration). */
  sendFor(spec: { path: string; body: string; check: LoadSpec['check'] }, seconds: number): Promise<LoadResult>;
  /** What the hook measured since the last call (it starts afresh). */
  report<T>(): Promise<T>;
}

/** Runs `work` against a gateway with `bench/<hook>.js` loaded; the hook writes its report to the file named by `fileVariable`. */
async function withHookedGateway<R>(simEnv: Record<string, string>, hook: string, fileVariable: string, env: Record<string, string>, work: (gateway: HookedGateway) => Promise<R>): Promise<R> {
  const file = resolve(tmpdir(), `switchboard-${hook}-${process.pid}.json`);
  const url = pathToFileURL(resolve(DIST, `bench/${hook}.js`)).href;
  const proc = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...simEnv, ...env, NODE_OPTIONS: `--import=${url}`, [fileVariable]: file }, 'server', READY);
  try {
    const gatewayUrl = proc.first.url as string;
    const headers = { authorization: `Bearer ${await sessionToken(gatewayUrl)}` };
    return await work({
      send: (spec, amount) => sendExactly({ url: gatewayUrl, path: spec.path, body: spec.body, headers }, amount),
      sendFor: (spec, seconds) => load({ url: gatewayUrl, path: spec.path, body: spec.body, headers, pid: proc.child.pid!, check: spec.check, connections: 1, duration: seconds, sampleEvery: 1 }),
      report: async <T>() => {
        rmSync(file, { force: true });
        proc.child.kill('SIGUSR2');
        for (let i = 0; i < 250 && !existsSync(file); i++) await sleep(20);
        return JSON.parse(readFileSync(file, 'utf8')) as T;
      },
    });
  } finally {
    await proc.stop();
    rmSync(file, { force: true });
  }
}

/**
 * Per request, what a gateway with bench/async-count.js loaded makes for each spec's requests, sent
 * one at a time after as many again to warm it (the JIT, the session's verification).
 */
function countAsync(simEnv: Record<string, string>, specs: Record<string, { spec: { path: string; body: string }; amount: number }>): Promise<Record<string, AsyncCounts>> {
  return withHookedGateway(simEnv, 'async-count', 'ASYNC_COUNT_FILE', {}, async (gateway) => {
    const out: Record<string, AsyncCounts> = {};
    for (const [name, { spec, amount }] of Object.entries(specs)) {
      await gateway.send(spec, amount);
      await gateway.report();
      const run = await gateway.send(spec, amount);
      const { requests, counts } = await gateway.report<{ requests: number; counts: Record<string, number> }>();
      if (run.non2xx || run.errors || requests !== amount) throw new Error(`P ${name}: ${requests} requests counted of ${amount} sent (${run.non2xx} not 2xx, ${run.errors} errors)`);
      const per = (n: number) => round(n / requests, 1);
      out[name] = {
        promises: per(counts.PROMISE ?? 0),
        ticks: per(counts.TickObject ?? 0),
        timers: per(counts.Timeout ?? 0),
        immediates: per(counts.Immediate ?? 0),
        all: per(Object.values(counts).reduce((a, b) => a + b, 0)),
      };
    }
    return out;
  });
}

/** Where one B request's time goes inside the gateway (means), and what its client saw per request. */
interface Phases {
  requests: number;
  beforeMs: number;
  callsMs: number;
  afterMs: number;
  totalMs: number;
  totalMedianMs: number;
  totalP90Ms: number;
  clientMs: number;
}

/**
 * B one request at a time through a gateway with bench/request-phases.js loaded for `seconds`
 * (after as long again to warm it): the time from each request's arrival to its first vendor call,
 * the calls, and from the last answer to the answer written, beside the time per request its
 * client saw.
 */
function phasesOf(simEnv: Record<string, string>, spec: { path: string; body: string; check: LoadSpec['check'] }, calls: number, seconds: number): Promise<Phases> {
  return withHookedGateway(simEnv, 'request-phases', 'PHASES_FILE', { PHASES_CALLS: String(calls) }, async (gateway) => {
    await gateway.sendFor(spec, seconds);
    await gateway.report();
    const run = await gateway.sendFor(spec, seconds);
    const phases = await gateway.report<Omit<Phases, 'clientMs'>>();
    // The last request may still be in flight when the run ends, and is then not counted by the hook.
    if (run.non2xx || run.errors || run.bad || Math.abs(phases.requests - run.requests) > 1) throw new Error(`B phases: ${phases.requests} requests timed of ${run.requests} sent (${run.non2xx} not 2xx, ${run.errors} errors, ${run.bad} wrong)`);
    return { ...phases, clientMs: run.msPerRequest };
  });
}

async function main(): Promise<void> {
  if (!existsSync(resolve(DIST, 'src/app/main.js'))) throw new Error('run `npm run build` first (npm run bench does)');
  mkdirSync(OUT, { recursive: true });
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, pinned: pinned ? `server on core ${SERVER_CORE}, simulators and load generator on core ${DRIVER_CORE}` : 'no taskset: not pinned', date: new Date().toISOString(), ...(NODE_FLAGS.length ? { nodeFlags: NODE_FLAGS.join(' ') } : {}) };
  console.log(`Switchboard benchmarks (${LABEL}) on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${machine.pinned}`);

  // ---- A and B: the hot path, gateway beside the bare proxy on one simulated upstream.
  const sims = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, 'driver');
  const simEnv = sims.first.env as Record<string, string>;
  const nuveqControl = sims.first.control.nuveq as string;
  const gateway = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...simEnv }, 'server', READY);
  const baseline = await start(resolve(DIST, 'bench/baseline.js'), [], { ...simEnv }, 'server');
  const gwUrl = gateway.first.url as string;
  const blUrl = baseline.first.url as string;
  const token = await sessionToken(gwUrl);

  // A: one user per request, 50 known users in turn, so that requests in flight together ask for
  // different users (concurrent asks for one user share a vendor call: workload E measures that).
  const known = KNOWN_USERS;
  const knownSet = new Set(known);
  const userQuery = USER_QUERY;
  const aGateway = {
    url: gwUrl,
    path: '/graphql',
    body: JSON.stringify({ query: userQuery, variables: { id: '1001' } }),
    bodies: known.map((id) => JSON.stringify({ query: userQuery, variables: { id } })),
    headers: { authorization: `Bearer ${token}` } as Record<string, string>,
    pid: gateway.child.pid!,
    check: check((d) => knownSet.has(d.nuveqUser?.userId) && typeof d.nuveqUser.name === 'string' && typeof d.nuveqUser.department?.name === 'string'),
  };
  const aBaseline = { url: blUrl, path: '/user', body: JSON.stringify({ userId: '1001' }), bodies: known.map((userId) => JSON.stringify({ userId })), pid: baseline.child.pid!, check: check((d) => typeof d.data?.name === 'string') };
  const ids = Array.from({ length: 50 }, (_, i) => String(1001 + i));
  const hundred = [...ids, ...ids];
  const bGateway = {
    ...aGateway,
    bodies: undefined,
    body: JSON.stringify({ query: 'query Users($ids: [ID!]!) { nuveqUsers(userIds: $ids) { userId name } }', variables: { ids: hundred } }),
    check: check((d) => Array.isArray(d.nuveqUsers) && d.nuveqUsers.length === 100 && d.nuveqUsers[0]?.userId === '1001'),
  };
  const bBaseline = { ...aBaseline, bodies: undefined, path: '/users', body: JSON.stringify({ userIds: hundred }), check: check((d) => Array.isArray(d) && d.length === 50) };

  // A's other contenders: the Apollo Server setups a user would otherwise choose (serving the same
  // field from the same simulator, no sessions: they have none), the gateway with tracing on (every
  // request sampled, to a local OTLP receiver), and any other build named with --compare.
  const others = new Map<string, { spec: typeof aGateway; stop(): Promise<void> }>();
  const sink = TRACED ? await otlpSink() : undefined;
  const contenders: Array<{ name: string; main: string; env?: Record<string, string>; apollo?: boolean; flags?: string[] }> = [
    ...(APOLLO
      ? [
          { name: 'apollo-tuned', main: resolve(DIST, 'bench/apollo/tuned.js'), apollo: true },
          { name: 'apollo-rest', main: resolve(DIST, 'bench/apollo/rest-datasource.js'), apollo: true },
        ]
      : []),
    ...(sink ? [{ name: 'traced', main: resolve(DIST, 'src/app/main.js'), env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' } }] : []),
    ...COMPARE.map((build) => ({ name: build.name, main: resolve(build.main), flags: build.flags })),
  ];
  for (const { name, main, env, apollo, flags } of contenders) {
    if (apollo) {
      const proc = await start(main, [], { NODE_ENV: 'production', ...simEnv }, 'server');
      others.set(name, { spec: { ...aGateway, url: proc.first.url as string, headers: {}, pid: proc.child.pid! }, stop: proc.stop });
      continue;
    }
    const proc = await start(main, [], { ...GATEWAY_ENV, ...simEnv, ...env }, 'server', READY, flags);
    const url = proc.first.url as string;
    const t = await sessionToken(url);
    others.set(name, { spec: { ...aGateway, url, headers: { authorization: `Bearer ${t}` }, pid: proc.child.pid! }, stop: proc.stop });
  }

  console.log('warming up…');
  // A's contenders warm up on A only: a gateway that ran B's 100-id batches first measured A about
  // 0.1 lower (30 µs/request more CPU) than an identical build that had not, in the same rounds.
  for (const spec of [aBaseline, aGateway, ...[...others.values()].map((o) => o.spec)]) await load({ ...spec, duration: 2 });

  const a: Array<{ baseline: LoadResult; gateway: LoadResult; ratio: number; others: Record<string, LoadResult> }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate who goes first, so drift in the machine does not favour one side.
    const names = ['baseline', 'gateway', ...others.keys()];
    const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
    const res: Record<string, LoadResult> = {};
    for (const who of order) {
      const spec = { ...(who === 'gateway' ? aGateway : who === 'baseline' ? aBaseline : others.get(who)!.spec), duration: DURATION };
      await warm(spec);
      res[who] = await load(spec);
    }
    const extra = Object.fromEntries([...others.keys()].map((k) => [k, res[k]!]));
    a.push({ baseline: res.baseline!, gateway: res.gateway!, ratio: res.gateway!.rps / res.baseline!.rps, others: extra });
    const more = Object.entries(extra).map(([k, v]) => `, ${k} ${round(v.rps)} req/s (ratio ${round(v.rps / res.baseline!.rps, 2)}, CPU ${round(v.cpuUsPerRequest)} µs/req)`).join('');
    console.log(`A round ${r + 1}: baseline ${round(res.baseline!.rps)} req/s, gateway ${round(res.gateway!.rps)} req/s (ratio ${round(res.gateway!.rps / res.baseline!.rps, 2)}), gateway CPU ${round(res.gateway!.cpuUsPerRequest)} µs/req${more}`);
  }
  await Promise.all([...others.values()].map((o) => o.stop()));
  await sink?.close();

  // B: throughput beside the baseline, and time per request against A's, one request at a time.
  for (const spec of [bBaseline, bGateway]) await load({ ...spec, duration: 2 });
  const b: Array<{ baseline: LoadResult; gateway: LoadResult; ratio: number; vendorCallsPerRequest: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    await warm(bBaseline);
    const bl = await load({ ...bBaseline, duration: DURATION });
    await warm(bGateway);
    const gw = await load({ ...bGateway, duration: DURATION });
    // Vendor calls per request over an exact number of requests, all answered before counting
    // (a timed run leaves requests in flight at its end, whose calls would be miscounted).
    await new Promise((r) => setTimeout(r, 500));
    await reset(nuveqControl);
    // One at a time: B's requests in flight together share calls for the same users (coalescing), so
    // this counts what one request costs, DataLoader's dedupe within it included.
    const exact = await sendExactly(bGateway, 100);
    const calls = (await stats(nuveqControl)).userDetailCalls as number;
    const perRequest = calls / exact.requests.total;
    b.push({ baseline: bl, gateway: gw, ratio: gw.rps / bl.rps, vendorCallsPerRequest: perRequest });
    console.log(`B round ${r + 1}: baseline ${round(bl.rps)} req/s, gateway ${round(gw.rps)} req/s (gateway CPU ${round(gw.cpuUsPerRequest)} µs/req); ${calls} vendor calls for ${exact.requests.total} requests = ${round(perRequest, 3)} per request`);
  }
  // One request at a time: what B costs beside A, for the gateway and, as the floor this upstream
  // allows, for the bare proxy making the same vendor calls.
  const serial = async (spec: Omit<LoadSpec, 'duration'>, seconds = DURATION) => {
    await warm({ ...spec, connections: 1 });
    return load({ ...spec, connections: 1, duration: seconds, sampleEvery: 1 });
  };
  const serialRuns = [await serial(aGateway), await serial(aBaseline), await serial(bBaseline)];
  const [sA, sBaseA, sBaseB] = serialRuns.map((r) => r.msPerRequest) as [number, number, number];
  // B against its floor (the same 50 vendor calls made from the server's core with nothing in
  // between), in rounds that alternate which goes first: the machine drifts by more between two
  // measurements minutes apart than B differs from its floor, so each round's ratio is paired.
  const SERIAL_SECONDS = Math.max(2, Math.min(5, DURATION));
  const floorRun = async () => {
    const floor = await start(resolve(DIST, 'bench/upstream-floor.js'), [], { ...GATEWAY_ENV, ...simEnv, FLOOR_SECONDS: String(SERIAL_SECONDS) }, 'server');
    const code = await floor.exited;
    if (code !== 0) throw new Error(`bench/upstream-floor.js exited ${code}`);
    return floor.first as { oneCallMs: number; fiftyCallsMs: number; stackMs: number };
  };
  const bFloor: Array<{ B: number; floor: number; stack: number; oneCall: number; ratio: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    let gw: LoadResult;
    let fl: { oneCallMs: number; fiftyCallsMs: number; stackMs: number };
    if (r % 2 === 0) {
      gw = await serial(bGateway, SERIAL_SECONDS);
      fl = await floorRun();
    } else {
      fl = await floorRun();
      gw = await serial(bGateway, SERIAL_SECONDS);
    }
    serialRuns.push(gw);
    bFloor.push({ B: gw.msPerRequest, floor: fl.fiftyCallsMs, stack: fl.stackMs, oneCall: fl.oneCallMs, ratio: gw.msPerRequest / fl.fiftyCallsMs });
    console.log(`B one at a time, round ${r + 1}: gateway ${round(gw.msPerRequest, 3)} ms, the 50 calls alone ${round(fl.fiftyCallsMs, 3)} ms (${round(gw.msPerRequest / fl.fiftyCallsMs, 2)}×), through the vendor stack alone ${round(fl.stackMs, 3)} ms`);
  }
  const sB = median(bFloor.map((x) => x.B));
  const overFloor = bFloor.map((x) => x.ratio);
  const oneAtATime = {
    A: sA,
    B: sB,
    baselineA: sBaseA,
    baselineB: sBaseB,
    upstreamOneCall: median(bFloor.map((x) => x.oneCall)),
    upstreamFifty: median(bFloor.map((x) => x.floor)),
    stack: median(bFloor.map((x) => x.stack)),
    overStack: median(bFloor.map((x) => x.stack / x.floor)),
    overFloor: spread(overFloor, 2),
  };
  console.log(
    `one at a time: gateway A ${round(oneAtATime.A, 3)} ms, B ${round(oneAtATime.B, 3)} ms (${round(oneAtATime.B / oneAtATime.A, 2)}× A; ${oneAtATime.overFloor.median}× the floor, paired by round, ${oneAtATime.overFloor.min}–${oneAtATime.overFloor.max}); bare proxy A ${round(oneAtATime.baselineA, 3)} ms, B ${round(oneAtATime.baselineB, 3)} ms (${round(oneAtATime.baselineB / oneAtATime.baselineA, 2)}×); the upstream alone: one call ${round(oneAtATime.upstreamOneCall, 3)} ms, 50 calls ${round(oneAtATime.upstreamFifty, 3)} ms; B's ids through the vendor stack alone ${round(oneAtATime.stack, 3)} ms (${round(oneAtATime.overStack, 2)}× the floor, paired)`,
  );
  // P: what one request makes (promises, nextTicks, timers, immediates), counted in a gateway of
  // its own: async_hooks slow a process down, so no timed run counts.
  const asyncCounts = await countAsync(simEnv, { A: { spec: aGateway, amount: 1000 }, B: { spec: bGateway, amount: 100 } });
  console.log(`P: per request, A ${asyncLine(asyncCounts.A!)}; B ${asyncLine(asyncCounts.B!)}`);
  // Where B's time goes inside the gateway: timed by a hook in a gateway of its own, as P's count is.
  const bInside = await phasesOf(simEnv, bGateway, 50, SERIAL_SECONDS);
  console.log(`B inside the gateway, one at a time (${bInside.requests} requests, means): arrival to first vendor call ${round(bInside.beforeMs, 3)} ms, the calls ${round(bInside.callsMs, 3)} ms, last answer to answer written ${round(bInside.afterMs, 3)} ms (${round(bInside.totalMs, 3)} ms in all); the client saw ${round(bInside.clientMs, 3)} ms per request`);
  await Promise.all([gateway.stop(), baseline.stop(), sims.stop()]);

  // ---- C: a cold start, 200 concurrent Platform operations against a fresh process.
  let c: { operations: number; answered: number; ms: number; serviceLogins: number } | undefined;
  if (ONLY.has('C')) {
  const simsC = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, 'driver');
  // Every login comes from this one address: its cap on new sessions (60 a minute) is not what C measures.
  const cold = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...ONE_ADDRESS, ...(simsC.first.env as Record<string, string>) }, 'server', READY);
  const cStarted = Date.now();
  const cResults = await Promise.all(Array.from({ length: 200 }, () => gql(cold.first.url, 'mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token } }')));
  c = {
    operations: 200,
    answered: cResults.filter((r) => r.data?.loginClient?.token).length,
    ms: Date.now() - cStarted,
    serviceLogins: (await stats(simsC.first.control.platform)).serviceLogins as number,
  };
  console.log(`C: ${c.answered}/200 answered in ${c.ms} ms with ${c.serviceLogins} service login(s)`);
  await Promise.all([cold.stop(), simsC.stop()]);
  }

  // ---- D: Platform at twice its budget (300/min per endpoint) for 90 s.
  let d: Record<string, number> | undefined;
  if (!SKIP_D) {
    const simsD = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, 'driver');
    const gwD = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...ONE_ADDRESS, ...(simsD.first.env as Record<string, string>) }, 'server', READY);
    let data = 0;
    let limited = 0;
    let other = 0;
    const result = await autocannon({
      url: gwD.first.url as string,
      connections: 200,
      overallRate: 10,
      duration: D_SECONDS,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: LOGIN }),
          onResponse: (_status: number, body: string) => {
            try {
              const parsed = JSON.parse(body) as { data?: any; errors?: Array<{ extensions?: { code?: string; retryAfter?: number } }> };
              if (parsed.data?.loginClient?.token) data++;
              else if (parsed.errors?.[0]?.extensions?.code === 'RATE_LIMITED' && (parsed.errors[0].extensions.retryAfter ?? 0) > 0) limited++;
              else other++;
            } catch {
              other++;
            }
          },
        },
      ],
    });
    const simStats = await stats(simsD.first.control.platform);
    d = {
      seconds: D_SECONDS,
      offeredPerSecond: 10,
      budgetPerMinute: 300,
      requests: result.requests.total,
      answeredWithData: data,
      answeredRateLimited: limited,
      otherAnswers: other + result.errors + result.timeouts,
      maxInAny60sWindow: simStats.maxInWindow['POST /v1/client/login'] as number,
    };
    console.log(`D: ${d.requests} requests in ${D_SECONDS} s: ${data} data, ${limited} RATE_LIMITED, ${d.otherAnswers} other; most in any 60 s at the vendor: ${d.maxInAny60sWindow} (budget 300)`);
    await Promise.all([gwD.stop(), simsD.stop()]);
  }

  // ---- E: hot keys. 200 connections ask for one of 10 users at random, the upstream 20 ms away:
  // concurrent asks for one user share a vendor call; the bare proxy makes one per request.
  let e: { latencyMs: number; connections: number; distinctIds: number; rounds: Array<Record<string, { rps: number; p50: number; p99: number; vendorCallsPerSecond: number; cpuUsPerRequest: number }>>; baseline: Record<string, number>; gateway: Record<string, number> } | undefined;
  if (ONLY.has('E')) {
    const E_LATENCY = 20;
    const simsE = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(E_LATENCY)], {}, 'driver');
    const envE = simsE.first.env as Record<string, string>;
    const controlE = simsE.first.control.nuveq as string;
    const gwE = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...envE }, 'server', READY);
    const blE = await start(resolve(DIST, 'bench/baseline.js'), [], { ...envE }, 'server');
    const tE = await sessionToken(gwE.first.url as string);
    const hot = known.slice(0, 10);
    const specs: Record<string, LoadSpec> = {
      baseline: { ...aBaseline, url: blE.first.url as string, pid: blE.child.pid!, bodies: hot.map((userId) => JSON.stringify({ userId })), random: true, connections: 200, duration: DURATION },
      gateway: { ...aGateway, url: gwE.first.url as string, pid: gwE.child.pid!, headers: { authorization: `Bearer ${tE}` }, bodies: hot.map((id) => JSON.stringify({ query: userQuery, variables: { id } })), random: true, connections: 200, duration: DURATION },
    };
    for (const spec of Object.values(specs)) await load({ ...spec, duration: 2 });
    const rounds: NonNullable<typeof e>['rounds'] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const res: (typeof rounds)[number] = {};
      for (const who of r % 2 ? ['gateway', 'baseline'] : ['baseline', 'gateway']) {
        await warm(specs[who]!);
        await new Promise((done) => setTimeout(done, 300));
        await reset(controlE);
        const run = await load(specs[who]!);
        const calls = (await stats(controlE)).userDetailCalls as number;
        res[who] = { rps: run.rps, p50: run.p50, p99: run.p99, vendorCallsPerSecond: calls / DURATION, cpuUsPerRequest: run.cpuUsPerRequest };
        if (run.bad || run.non2xx || run.errors) throw new Error(`E: ${who} answered wrongly (${run.bad} wrong, ${run.non2xx} non-2xx, ${run.errors} errors)`);
      }
      rounds.push(res);
      console.log(`E round ${r + 1}: baseline ${round(res.baseline!.rps)} req/s, ${round(res.baseline!.vendorCallsPerSecond)} vendor calls/s, p99 ${res.baseline!.p99} ms; gateway ${round(res.gateway!.rps)} req/s, ${round(res.gateway!.vendorCallsPerSecond)} vendor calls/s, p99 ${res.gateway!.p99} ms`);
    }
    const of = (who: string) => ({
      rps: round(median(rounds.map((x) => x[who]!.rps))),
      p50: median(rounds.map((x) => x[who]!.p50)),
      p99: median(rounds.map((x) => x[who]!.p99)),
      vendorCallsPerSecond: round(median(rounds.map((x) => x[who]!.vendorCallsPerSecond))),
      cpuUsPerRequest: round(median(rounds.map((x) => x[who]!.cpuUsPerRequest))),
    });
    e = { latencyMs: E_LATENCY, connections: 200, distinctIds: hot.length, rounds, baseline: of('baseline'), gateway: of('gateway') };
    await Promise.all([gwE.stop(), blE.stop(), simsE.stop()]);
  }

  // ---- M: memory of live sessions and cached vendor tokens in the in-process stores.
  let m: Record<string, any> | undefined;
  if (ONLY.has('M')) {
    m = JSON.parse(execFileSync(process.execPath, ['--expose-gc', resolve(DIST, 'bench/memory.js')], { cwd: ROOT }).toString().trim().split('\n').pop()!) as Record<string, any>;
    console.log(`M: heap ${m.sessions['0'].heapMb} / ${m.sessions['10000'].heapMb} / ${m.sessions['100000'].heapMb} MB at 0 / 10k / 100k sessions (RSS ${m.sessions['0'].rssMb} / ${m.sessions['10000'].rssMb} / ${m.sessions['100000'].rssMb} MB): ${m.bytesPerSession.heapAt100k} bytes per session; ${m.bytesPerVendorToken.heap} bytes per cached vendor token`);
  }

  // ---- S: 1,000 WebSocket subscribers of one device.
  let subs: SubscriberBenchResult | undefined;
  if (ONLY.has('S')) {
    subs = await runSubscriberBench({
      subscribers: 1000,
      eventsPerSecond: 5,
      seconds: 20,
      startGateway: async (env) => {
        const p = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...env }, 'server', READY);
        return { url: p.first.url as string, pid: p.child.pid!, stop: p.stop };
      },
    });
    console.log(`S: ${subs.subscribers} subscribers on ${subs.deviceStreams} device stream(s): ${subs.deliveredToAll}/${subs.events} events reached all; delay to the last subscriber p50 ${subs.lastSubscriberDelayMs.p50} ms, p99 ${subs.lastSubscriberDelayMs.p99} ms; ${subs.memoryPerSubscriber.rssKb} KB RSS, ${subs.memoryPerSubscriber.heapKb} KB heap per subscriber`);
  }

  // ---- Report.
  const busy = (rs: LoadResult[]) => (rs.every((x) => x.cores) ? { cores: { server: round(median(rs.map((x) => x.cores!.server)), 2), driver: round(median(rs.map((x) => x.cores!.driver)), 2) } } : {});
  const summary = (rs: LoadResult[]) => ({ rps: round(median(rs.map((x) => x.rps))), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), cpuUsPerRequest: round(median(rs.map((x) => x.cpuUsPerRequest))), ...busy(rs) });
  const ratios = a.map((x) => x.ratio);
  const report = {
    label: LABEL,
    machine,
    settings: { rounds: ROUNDS, durationSeconds: DURATION, warmupSeconds: WARMUP, connections: 50, upstreamLatencyMs: LATENCY, ...(COMPARE.length ? { compared: COMPARE } : {}) },
    A: {
      gateway: summary(a.map((x) => x.gateway)),
      baseline: summary(a.map((x) => x.baseline)),
      ratio: spread(ratios, 3),
      // Each other contender: its summary, its ratio to the bare proxy, and how it compares with the gateway.
      others: Object.fromEntries(
        [...(a[0] ? Object.keys(a[0].others) : [])].map((k) => {
          const runs = a.map((x) => x.others[k]!);
          const ratios = a.map((x) => x.others[k]!.rps / x.baseline.rps);
          // Paired by round: each round's difference from the gateway's ratio, so drift between rounds cancels.
          const diffs = a.map((x) => (x.others[k]!.rps - x.gateway.rps) / x.baseline.rps);
          return [k, { ...summary(runs), ratio: round(median(ratios), 3), ratioMinusGateway: spread(diffs, 3), cpuUsPerRequestOverGateway: round(median(a.map((x) => x.others[k]!.cpuUsPerRequest - x.gateway.cpuUsPerRequest))) }];
        }),
      ),
      checked: a.reduce((n, x) => n + x.gateway.checked + x.baseline.checked, 0),
      bad: a.reduce((n, x) => n + x.gateway.bad + x.baseline.bad + x.gateway.non2xx + x.baseline.non2xx + x.gateway.errors + x.baseline.errors, 0),
      rounds: a,
    },
    B: {
      gateway: summary(b.map((x) => x.gateway)),
      baseline: summary(b.map((x) => x.baseline)),
      ratio: spread(b.map((x) => x.ratio), 3),
      vendorCallsPerRequest: b.map((x) => round(x.vendorCallsPerRequest, 3)),
      oneAtATimeMs: {
        A: round(oneAtATime.A, 3),
        B: round(oneAtATime.B, 3),
        ratio: round(oneAtATime.B / oneAtATime.A, 2),
        baselineA: round(oneAtATime.baselineA, 3),
        baselineB: round(oneAtATime.baselineB, 3),
        baselineRatio: round(oneAtATime.baselineB / oneAtATime.baselineA, 2),
        upstreamOneCall: round(oneAtATime.upstreamOneCall, 3),
        upstreamFiftyCalls: round(oneAtATime.upstreamFifty, 3),
        upstreamFiftyCallsRatioToA: round(oneAtATime.upstreamFifty / oneAtATime.A, 2),
        // B's 100 ids through the gateway's vendor stack with no request around it (bench/upstream-floor.ts),
        // and that over the floor, paired by round.
        vendorStack: round(oneAtATime.stack, 3),
        vendorStackOverFloor: round(oneAtATime.overStack, 2),
        // How the stack and the floor's fan-outs shared the floor's process (older runs: one block of
        // seconds after the other; two runs of 2026-12-07 interleaved them call by call, which slowed the floor).
        stackTiming: 'alternating blocks of a second',
        // B's time over the floor's, paired by round (median, range), and the rounds themselves.
        overFloor: oneAtATime.overFloor,
        rounds: bFloor.map((x) => ({ B: round(x.B, 3), floor: round(x.floor, 3), stack: round(x.stack, 3), ratio: round(x.ratio, 2) })),
        // One request at a time in a gateway of its own with bench/request-phases.js loaded (means, and
        // the whole's median and 90th percentile; the runs of 2026-12-07 before these stored medians only).
        inside: {
          requests: bInside.requests,
          beforeMs: round(bInside.beforeMs, 3),
          callsMs: round(bInside.callsMs, 3),
          afterMs: round(bInside.afterMs, 3),
          totalMs: round(bInside.totalMs, 3),
          totalMedianMs: round(bInside.totalMedianMs, 3),
          totalP90Ms: round(bInside.totalP90Ms, 3),
          clientMs: round(bInside.clientMs, 3),
        },
      },
      // The one-at-a-time runs check every answer, and count here.
      checked: b.reduce((n, x) => n + x.gateway.checked + x.baseline.checked, 0) + serialRuns.reduce((n, x) => n + x.checked, 0),
      bad: b.reduce((n, x) => n + x.gateway.bad + x.baseline.bad + x.gateway.non2xx + x.gateway.errors, 0) + serialRuns.reduce((n, x) => n + x.bad + x.non2xx + x.errors, 0),
      rounds: b,
    },
    P: asyncCounts,
    C: c,
    D: d,
    E: e,
    M: m,
    S: subs,
  };
  const apollo = againstApollo(a);
  const fastestApollo = apollo?.byRps;
  Object.assign(report.A, { overFastestApollo: fastestApollo, overFastestApolloByCpu: apollo?.byCpu });
  const targets = {
    'A ratio >= 0.75': report.A.ratio.median >= 0.75,
    ...(fastestApollo ? { 'A >= 2x the req/s of the fastest Apollo setup (paired by round)': fastestApollo.median >= 2 } : {}),
    'A p99 <= 1.5x baseline p99': report.A.gateway.p99 <= 1.5 * report.A.baseline.p99,
    'B exactly 50 vendor calls per request': report.B.vendorCallsPerRequest.every((x) => x === 50),
    'B time per request <= 1.3x the floor (the 50 calls from the server core, paired by round)': oneAtATime.overFloor.median <= 1.3,
    ...(c ? { 'C every operation answered': c.answered === c.operations, 'C exactly 1 service login': c.serviceLogins === 1 } : {}),
    ...(d ? { 'D never more than the budget in 60 s': d.maxInAny60sWindow! <= 300, 'D every request answered': d.otherAnswers === 0 } : {}),
    ...(e
      ? {
          'E vendor calls <= 1.1 x distinct ids x (duration / latency)': e.gateway.vendorCallsPerSecond! <= 1.1 * e.distinctIds * (1000 / e.latencyMs),
          'E req/s >= baseline': e.gateway.rps! >= e.baseline.rps!,
        }
      : {}),
    ...(m ? { 'M <= 2 KB per in-process session at 100k sessions': m.bytesPerSession.heapAt100k <= 2048 } : {}),
    'every sampled answer right': report.A.bad === 0 && report.B.bad === 0,
    ...(subs ? { 'S one device stream for all subscribers': subs.deviceStreams === 1, 'S every event reached every subscriber': subs.deliveredToAll === subs.events } : {}),
  };
  const stamp = machine.date.replace(/[:.]/g, '-');
  const json = { ...report, targets };
  writeFileSync(resolve(OUT, `${stamp}-${LABEL}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(resolve(OUT, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = markdown(json);
  writeFileSync(resolve(OUT, 'latest.md'), md);
  writeFileSync(resolve(OUT, 'chart.svg'), chartSvg(chartInput(json)));
  appendHistory(
    OUT,
    `| ${machine.date.slice(0, 16)} | ${LABEL}${NODE_FLAGS.length ? ` *(servers run with ${NODE_FLAGS.join(' ')})*` : ''} | ${report.A.gateway.rps} | ${report.A.ratio.median} (${report.A.ratio.min}–${report.A.ratio.max}) | ${report.A.gateway.cpuUsPerRequest} | ${report.A.gateway.p99} / ${report.A.baseline.p99} | ${report.B.oneAtATimeMs.ratio} | ${c ? c.serviceLogins : '–'} | ${d ? d.maxInAny60sWindow : '–'} |`,
  );
  console.log(`\n${md}`);
}

/** The chart of a report: each of A's servers against the bare proxy, paired by round. */
export function chartInput(r: any): ChartInput {
  const rounds = r.A.rounds as Array<{ baseline: LoadResult; gateway: LoadResult; others: Record<string, LoadResult> }>;
  const paired = (of: (x: (typeof rounds)[number]) => LoadResult) => ({
    ratio: median(rounds.map((x) => of(x).rps / x.baseline.rps)),
    cpuRatio: median(rounds.map((x) => of(x).cpuUsPerRequest / x.baseline.cpuUsPerRequest)),
  });
  return {
    label: r.label,
    baseline: r.A.baseline,
    rows: [
      { name: 'Switchboard, with a session', ours: true, ...paired((x) => x.gateway) },
      ...Object.keys(r.A.others ?? {}).filter((k) => k !== 'traced').map((k) => ({ name: CONTENDER_NAMES[k] ?? k, ours: false, ...paired((x) => x.others[k]!) })),
    ],
  };
}

/**
 * Switchboard against the Apollo setups of A, paired by round (the machine drifts between rounds
 * more than the servers differ within one): its req/s over the fastest setup's, and the cheapest
 * setup's CPU per request over its own. The load generator's limit touches the second less (though
 * a server's CPU per request rises when its core is not kept busy). Undefined without Apollo.
 */
function againstApollo(rounds: Array<{ gateway: LoadResult; others: Record<string, LoadResult> }>): { byRps: ReturnType<typeof spread>; byCpu: ReturnType<typeof spread> } | undefined {
  const names = Object.keys(rounds[0]?.others ?? {}).filter((k) => k.startsWith('apollo-'));
  if (!names.length) return undefined;
  return {
    byRps: spread(rounds.map((x) => x.gateway.rps / Math.max(...names.map((k) => x.others[k]!.rps))), 2),
    byCpu: spread(rounds.map((x) => Math.min(...names.map((k) => x.others[k]!.cpuUsPerRequest)) / x.gateway.cpuUsPerRequest), 2),
  };
}

/** How the report names A's contenders. */
const CONTENDER_NAMES: Record<string, string> = {
  traced: 'Switchboard with tracing on (every request, OTLP to a local receiver)',
  'apollo-tuned': 'Apollo Server 5 tuned (raw node:http, undici, plugins off)',
  'apollo-rest': 'Apollo Server 5 + RESTDataSource (as Apollo documents it)',
};

function markdown(r: any): string {
  const apollo = againstApollo(r.A.rounds);
  const row = (name: string, s: any) => `| ${name} | ${s.rps} | ${s.p50} | ${s.p99} | ${s.cpuUsPerRequest} | ${s.cores ? `${s.cores.server} / ${s.cores.driver}` : '–'} |`;
  const lines = [
    `### ${r.label}: ${r.machine.date.slice(0, 10)}, ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}`,
    '',
    `${r.settings.rounds} interleaved rounds of ${r.settings.durationSeconds} s${r.settings.warmupSeconds ? ` (each after ${r.settings.warmupSeconds} s of the same load, not counted)` : ''}, ${r.settings.connections} connections, upstream latency ${r.settings.upstreamLatencyMs} ms; ${r.machine.pinned}${r.machine.nodeFlags ? `; every server run with ${r.machine.nodeFlags}` : ''}.`,
    '',
    '| workload / server | req/s (median) | p50 ms | p99 ms | server CPU µs/req | busy: server core / load generator core |',
    '|---|---|---|---|---|---|',
    row('A: bare proxy (node:http + undici)', r.A.baseline),
    row('A: Switchboard, one `nuveqUser` with a session', r.A.gateway),
    ...Object.entries(r.A.others ?? {}).map(([k, v]: [string, any]) => row(`A: ${CONTENDER_NAMES[k] ?? k}`, v)),
    row('B: bare proxy, 50 distinct users', r.B.baseline),
    row('B: Switchboard, `nuveqUsers` of 100 ids (50 distinct)', r.B.gateway),
    ...(r.E ? [row(`E: bare proxy, 10 hot users, ${r.E.connections} connections, ${r.E.latencyMs} ms upstream`, r.E.baseline), row('E: Switchboard, the same', r.E.gateway)] : []),
    '',
    `- **A** ratio to the bare proxy (median of rounds, min–max): **${r.A.ratio.median}** (${r.A.ratio.min}–${r.A.ratio.max}); sampled answers checked: ${r.A.checked}, wrong: ${r.A.bad}.`,
    ...(apollo
      ? [
          `- **A** over the fastest Apollo setup, req/s paired by round (median, min–max): **${apollo.byRps.median}×** (${apollo.byRps.min}–${apollo.byRps.max}); by CPU per request, the cheapest Apollo setup's over Switchboard's, paired by round: ${apollo.byCpu.median}× (${apollo.byCpu.min}–${apollo.byCpu.max}).`,
        ]
      : []),
    ...(r.A.baseline.cores && r.A.gateway.cores
      ? [
          `- **The load generator's limit.** autocannon and the simulators share one core: it was ${r.A.baseline.cores.driver} busy while the bare proxy ran (the proxy's own core ${r.A.baseline.cores.server}) and ${r.A.gateway.cores.driver} while Switchboard ran (its core ${r.A.gateway.cores.server}), medians of rounds. A server whose core is not full while the generator's is was held back by the generator, so a req/s ratio against it understates how far apart the servers are; CPU per request is less affected (it rises when a server's core is not kept busy).`,
        ]
      : []),
    ...Object.entries(r.A.others ?? {}).map(([k, v]: [string, any]) => `- **A, ${k}**: ratio ${v.ratio} (the gateway's ${r.A.ratio.median} in the same rounds; paired by round, ${k} minus gateway: ${v.ratioMinusGateway?.median} (${v.ratioMinusGateway?.min} to ${v.ratioMinusGateway?.max})); CPU per request ${v.cpuUsPerRequestOverGateway >= 0 ? '+' : ''}${v.cpuUsPerRequestOverGateway} µs beside the gateway's.`),
    `- **B** vendor calls per request: ${r.B.vendorCallsPerRequest.join(', ')}; one request at a time: A ${r.B.oneAtATimeMs.A} ms, B ${r.B.oneAtATimeMs.B} ms (**${r.B.oneAtATimeMs.ratio}×** A; the bare proxy making the same calls: ${r.B.oneAtATimeMs.baselineA} ms and ${r.B.oneAtATimeMs.baselineB} ms, ${r.B.oneAtATimeMs.baselineRatio}×; the 50 vendor calls alone, made straight from the server's core: ${r.B.oneAtATimeMs.upstreamFiftyCalls} ms, **${r.B.oneAtATimeMs.upstreamFiftyCallsRatioToA}×** A, one call ${r.B.oneAtATimeMs.upstreamOneCall} ms); B over that floor, paired by round: **${r.B.oneAtATimeMs.overFloor.median}×** (${r.B.oneAtATimeMs.overFloor.min}–${r.B.oneAtATimeMs.overFloor.max})${r.B.oneAtATimeMs.vendorStack === undefined ? '' : `; B's 100 ids through the gateway's vendor stack with no request around it (the datasource's list read, DataLoader, coalescing, gates, client, answers read)${r.B.oneAtATimeMs.stackTiming ? `, timed in ${r.B.oneAtATimeMs.stackTiming} with the floor's fan-outs` : r.B.oneAtATimeMs.stackInterleaved ? ", timed interleaved call by call with the floor's fan-outs (which slowed the floor: see README)" : ''}: ${r.B.oneAtATimeMs.vendorStack} ms, ${r.B.oneAtATimeMs.vendorStackOverFloor}× the floor`}; ratio to the bare proxy ${r.B.ratio.median} (${r.B.ratio.min}–${r.B.ratio.max}); checked ${r.B.checked}, wrong ${r.B.bad}.`,
    ...(r.B.oneAtATimeMs.inside
      ? [
          r.B.oneAtATimeMs.inside.totalMedianMs === undefined
            ? `- **B inside the gateway**, one request at a time in a gateway of its own with a timing hook (${r.B.oneAtATimeMs.inside.requests} requests, medians): from a request's arrival to its first vendor call ${r.B.oneAtATimeMs.inside.beforeMs} ms, the 50 calls ${r.B.oneAtATimeMs.inside.callsMs} ms, from the last answer to the answer written ${r.B.oneAtATimeMs.inside.afterMs} ms (**${r.B.oneAtATimeMs.inside.totalMs} ms** in all); its client saw ${r.B.oneAtATimeMs.inside.clientMs} ms per request (a mean: slow requests weigh in it that a median leaves out, so the two do not compare).`
            : `- **B inside the gateway**, one request at a time in a gateway of its own with a timing hook (${r.B.oneAtATimeMs.inside.requests} requests, means): from a request's arrival to its first vendor call ${r.B.oneAtATimeMs.inside.beforeMs} ms, the 50 calls ${r.B.oneAtATimeMs.inside.callsMs} ms, from the last answer to the answer written ${r.B.oneAtATimeMs.inside.afterMs} ms (**${r.B.oneAtATimeMs.inside.totalMs} ms** in all; median ${r.B.oneAtATimeMs.inside.totalMedianMs} ms, 90th percentile ${r.B.oneAtATimeMs.inside.totalP90Ms} ms); its client saw ${r.B.oneAtATimeMs.inside.clientMs} ms per request, the difference being the way between them.`,
        ]
      : []),
    r.P
      ? `- **P** made per request, one request at a time, in a gateway of its own that counts with async_hooks (counts do not drift with the machine's speed): A ${asyncLine(r.P.A)}; B ${asyncLine(r.P.B)}.`
      : '- **P** not counted in this run.',
    r.C ? `- **C** cold start: ${r.C.answered}/${r.C.operations} Platform operations answered in ${r.C.ms} ms with **${r.C.serviceLogins}** service login(s).` : '- **C** skipped in this run.',
    r.D
      ? `- **D** ${r.D.offeredPerSecond} req/s for ${r.D.seconds} s against a ${r.D.budgetPerMinute}/min budget: ${r.D.requests} requests, ${r.D.answeredWithData} with data, ${r.D.answeredRateLimited} RATE_LIMITED with retryAfter, ${r.D.otherAnswers} other; most calls in any 60 s window at the vendor: **${r.D.maxInAny60sWindow}**.`
      : '- **D** skipped in this run.',
    r.E
      ? `- **E** hot keys (${r.E.distinctIds} users asked at random by ${r.E.connections} connections, upstream ${r.E.latencyMs} ms): vendor calls per second **${r.E.gateway.vendorCallsPerSecond}** for Switchboard (at most ${r.E.distinctIds} × 1000 / ${r.E.latencyMs} = ${(r.E.distinctIds * 1000) / r.E.latencyMs} when every call is shared), ${r.E.baseline.vendorCallsPerSecond} for the bare proxy (one per request); req/s ${r.E.gateway.rps} against ${r.E.baseline.rps}; p99 ${r.E.gateway.p99} ms against ${r.E.baseline.p99} ms.`
      : '- **E** skipped in this run.',
    r.M
      ? `- **M** memory in the in-process stores, heap after GC (RSS): ${r.M.sessions['0'].heapMb} MB (${r.M.sessions['0'].rssMb}) with no session, ${r.M.sessions['10000'].heapMb} MB (${r.M.sessions['10000'].rssMb}) with 10k, ${r.M.sessions['100000'].heapMb} MB (${r.M.sessions['100000'].rssMb}) with 100k: **${r.M.bytesPerSession.heapAt100k} bytes per session** (each with one vendor login, used once); **${r.M.bytesPerVendorToken.heap} bytes per cached vendor token**.`
      : '- **M** skipped in this run.',
    r.S
      ? `- **S** ${r.S.subscribers} WebSocket subscribers of one device's events, ${r.S.deviceStreams} device stream: ${r.S.deliveredToAll}/${r.S.events} events reached every subscriber; from the device sending to the last subscriber receiving: p50 ${r.S.lastSubscriberDelayMs.p50} ms, **p99 ${r.S.lastSubscriberDelayMs.p99} ms** (max ${r.S.lastSubscriberDelayMs.max}); gateway memory per subscriber: **${r.S.memoryPerSubscriber.rssKb} KB** resident, ${r.S.memoryPerSubscriber.heapKb} KB V8 heap.`
      : '- **S** skipped in this run.',
    '',
    '| target | met |',
    '|---|---|',
    ...Object.entries(r.targets as Record<string, boolean>).map(([k, v]) => `| ${k} | ${v ? 'yes' : '**no**'} |`),
    '',
  ];
  return lines.join('\n');
}

/** Writes the latest files (what the README shows) from one stored run. */
function render(path: string): void {
  const json = JSON.parse(readFileSync(resolve(path), 'utf8')) as Record<string, any>;
  mkdirSync(OUT, { recursive: true });
  writeFileSync(resolve(OUT, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(resolve(OUT, 'latest.md'), markdown(json));
  writeFileSync(resolve(OUT, 'chart.svg'), chartSvg(chartInput(json)));
}

const RENDER = option('render', '');
if (RENDER) render(RENDER);
else {
  // However the run ends, no simulator or server it started is left running.
  main().then(
    () => stopAll(),
    async (error: unknown) => {
      console.error(error);
      await stopAll();
      process.exit(1);
    },
  );
}
