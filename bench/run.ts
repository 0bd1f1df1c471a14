import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { chartSvg } from './chart.js';
import { runSubscriberBench, type SubscriberBenchResult } from './subscriptions.js';

/**
 * `npm run bench`: the gateway (production mode, sessions, metrics, rate limiting, info logging)
 * beside a bare node:http + undici proxy on the same simulated upstream, each in its own process,
 * interleaved in rounds, every sampled answer checked before it counts.
 *
 * Options: --rounds N (3), --duration S (10), --latency MS (0), --label TEXT, --skip-d, --d-seconds S (90),
 *          --only A,B,C,D,S (all; A and B always run, as the hot path's measurement, so it selects C, D and S),
 *          --compare NAME=path/to/dist/src/app/main.js (repeatable: another build of the gateway in A's rounds, e.g. the
 *          commit before a change), --no-traced (skip A with tracing on)
 */

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIST = resolve(ROOT, 'dist');
const OUT = resolve(ROOT, 'bench/results');

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const ROUNDS = Number(opt('rounds', '3'));
const DURATION = Number(opt('duration', '10'));
const LATENCY = Number(opt('latency', '0'));
const LABEL = opt('label', 'run');
const D_SECONDS = Number(opt('d-seconds', '90'));
const ONLY = new Set(opt('only', 'A,B,C,D,S').split(',').map((w) => w.trim().toUpperCase()));
const SKIP_D = process.argv.includes('--skip-d') || !ONLY.has('D');
const TRACED = !process.argv.includes('--no-traced');
/** Other gateway builds to run in A's rounds, by name. */
const COMPARE = process.argv.flatMap((a, i) => (a === '--compare' && process.argv[i + 1] ? [process.argv[i + 1]!.split('=') as [string, string]] : []));

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return cpus().length > 1;
  } catch {
    return false;
  }
})();
const SERVER_CORE = '0';
const DRIVER_CORE = String(Math.min(1, cpus().length - 1));
if (hasTaskset) execFileSync('taskset', ['-cp', DRIVER_CORE, String(process.pid)], { stdio: 'ignore' });

interface Proc {
  child: ChildProcess;
  first: Record<string, any>;
  stop(): Promise<void>;
}

/** Starts a node script, pinned, and resolves with its first JSON line (or a line matching `ready`). */
function start(script: string, args: string[], env: Record<string, string>, core: string, ready?: RegExp): Promise<Proc> {
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const argv = hasTaskset ? ['-c', core, process.execPath, script, ...args] : [script, ...args];
  const child = spawn(cmd, argv, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${stderr}`)), 30_000);
    const onData = (c: Buffer) => {
      buffer += c.toString();
      for (const line of buffer.split('\n')) {
        let first: Record<string, any> | undefined;
        if (ready) {
          const m = ready.exec(line);
          if (m) first = { url: m[1] };
        } else if (line.startsWith('{')) {
          try {
            first = JSON.parse(line) as Record<string, any>;
          } catch {
            first = undefined;
          }
        }
        if (first) {
          clearTimeout(timer);
          // Keep draining stdout (the gateway logs at info) so the pipe never blocks it.
          child.stdout!.off('data', onData);
          child.stdout!.on('data', () => undefined);
          resolvePromise({
            child,
            first,
            stop: () =>
              new Promise<void>((r) => {
                child.once('exit', () => r());
                child.kill('SIGTERM');
              }),
          });
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}: ${stderr}`)));
  });
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

/** CPU seconds (user + system) the process has used, from the kernel's own accounting. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Wall-clock time per request per connection: with one connection, the time one request takes. */
  msPerRequest: number;
  cpuUsPerRequest: number;
  checked: number;
  bad: number;
  non2xx: number;
  errors: number;
}

interface LoadSpec {
  url: string;
  path: string;
  body: string;
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
  const cpuBefore = cpuSeconds(spec.pid);
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
        onResponse: (status: number, body: string) => {
          if (seen++ % sampleEvery !== 0) return;
          checked++;
          if (!spec.check(status, body)) bad++;
        },
      },
    ],
  });
  const cpu = cpuSeconds(spec.pid) - cpuBefore;
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
    checked,
    bad,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const GATEWAY_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  SESSION_SECRET: 'bench-session-secret-0123456789abcdef',
  PORT: '0',
  HOST: '127.0.0.1',
};
const READY = /GraphQL:\s+(http:\/\/\S+)\/graphql/;

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

async function main(): Promise<void> {
  if (!existsSync(resolve(DIST, 'src/app/main.js'))) throw new Error('run `npm run build` first (npm run bench does)');
  mkdirSync(OUT, { recursive: true });
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, pinned: hasTaskset ? `server on core ${SERVER_CORE}, simulators and load generator on core ${DRIVER_CORE}` : 'no taskset: not pinned', date: new Date().toISOString() };
  console.log(`Switchboard benchmarks (${LABEL}) on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${machine.pinned}`);

  // ---- A and B: the hot path, gateway beside the bare proxy on one simulated upstream.
  const sims = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, DRIVER_CORE);
  const simEnv = sims.first.env as Record<string, string>;
  const nuveqControl = sims.first.control.nuveq as string;
  const gateway = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...simEnv }, SERVER_CORE, READY);
  const baseline = await start(resolve(DIST, 'bench/baseline.js'), [], { ...simEnv }, SERVER_CORE);
  const gwUrl = gateway.first.url as string;
  const blUrl = baseline.first.url as string;
  const login = await gql(gwUrl, 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }');
  const token = login.data.loginClient.token as string;

  const aGateway = {
    url: gwUrl,
    path: '/graphql',
    body: JSON.stringify({ query: 'query User($id: ID!) { nuveqUser(userId: $id) { userId name email phone staffNumber department { id name } role { name } lastSeenAt } }', variables: { id: '1001' } }),
    headers: { authorization: `Bearer ${token}` },
    pid: gateway.child.pid!,
    check: check((d) => d.nuveqUser?.userId === '1001' && typeof d.nuveqUser.name === 'string'),
  };
  const aBaseline = { url: blUrl, path: '/user', body: JSON.stringify({ userId: '1001' }), pid: baseline.child.pid!, check: check((d) => typeof d.data?.name === 'string') };
  const ids = Array.from({ length: 50 }, (_, i) => String(1001 + i));
  const hundred = [...ids, ...ids];
  const bGateway = {
    ...aGateway,
    body: JSON.stringify({ query: 'query Users($ids: [ID!]!) { nuveqUsers(userIds: $ids) { userId name } }', variables: { ids: hundred } }),
    check: check((d) => Array.isArray(d.nuveqUsers) && d.nuveqUsers.length === 100 && d.nuveqUsers[0]?.userId === '1001'),
  };
  const bBaseline = { ...aBaseline, path: '/users', body: JSON.stringify({ userIds: hundred }), check: check((d) => Array.isArray(d) && d.length === 50) };

  // A's other contenders: the gateway with tracing on (every request sampled, to a local OTLP
  // receiver), and any other build named with --compare; each logged in like the gateway.
  const others = new Map<string, { spec: typeof aGateway; stop(): Promise<void> }>();
  const sink = TRACED ? await otlpSink() : undefined;
  const contenders: Array<[string, string, Record<string, string>]> = [
    ...(sink ? [['traced', resolve(DIST, 'src/app/main.js'), { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' }] as [string, string, Record<string, string>]] : []),
    ...COMPARE.map(([name, main]) => [name, resolve(main), {}] as [string, string, Record<string, string>]),
  ];
  for (const [name, main, env] of contenders) {
    const proc = await start(main, [], { ...GATEWAY_ENV, ...simEnv, ...env }, SERVER_CORE, READY);
    const url = proc.first.url as string;
    const t = (await gql(url, 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }')).data.loginClient.token as string;
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
    for (const who of order) res[who] = await load({ ...(who === 'gateway' ? aGateway : who === 'baseline' ? aBaseline : others.get(who)!.spec), duration: DURATION });
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
    const bl = await load({ ...bBaseline, duration: DURATION });
    const gw = await load({ ...bGateway, duration: DURATION });
    // Vendor calls per request over an exact number of requests, all answered before counting
    // (a timed run leaves requests in flight at its end, whose calls would be miscounted).
    await new Promise((r) => setTimeout(r, 500));
    await reset(nuveqControl);
    const exact = await autocannon({ url: bGateway.url, connections: 10, amount: 200, requests: [{ method: 'POST', path: bGateway.path, headers: { 'content-type': 'application/json', ...bGateway.headers }, body: bGateway.body }] });
    const calls = (await stats(nuveqControl)).userDetailCalls as number;
    const perRequest = calls / exact.requests.total;
    b.push({ baseline: bl, gateway: gw, ratio: gw.rps / bl.rps, vendorCallsPerRequest: perRequest });
    console.log(`B round ${r + 1}: baseline ${round(bl.rps)} req/s, gateway ${round(gw.rps)} req/s (gateway CPU ${round(gw.cpuUsPerRequest)} µs/req); ${calls} vendor calls for ${exact.requests.total} requests = ${round(perRequest, 3)} per request`);
  }
  // One request at a time: what B costs beside A, for the gateway and, as the floor this upstream
  // allows, for the bare proxy making the same vendor calls.
  const serial = (spec: Omit<LoadSpec, 'duration'>) => load({ ...spec, connections: 1, duration: DURATION, sampleEvery: 1 });
  const serialRuns = [await serial(aGateway), await serial(bGateway), await serial(aBaseline), await serial(bBaseline)];
  const [sA, sB, sBaseA, sBaseB] = serialRuns.map((r) => r.msPerRequest) as [number, number, number, number];
  // The floor under B: the same vendor calls made from the server's core with nothing in between.
  const floor = await start(resolve(DIST, 'bench/upstream-floor.js'), [], { ...simEnv, FLOOR_SECONDS: String(Math.min(5, DURATION)) }, SERVER_CORE);
  await new Promise((r) => (floor.child.exitCode === null ? floor.child.once('exit', r) : r(undefined)));
  const oneAtATime = { A: sA, B: sB, baselineA: sBaseA, baselineB: sBaseB, upstreamOneCall: floor.first.oneCallMs as number, upstreamFifty: floor.first.fiftyCallsMs as number };
  console.log(
    `one at a time: gateway A ${round(oneAtATime.A, 3)} ms, B ${round(oneAtATime.B, 3)} ms (${round(oneAtATime.B / oneAtATime.A, 2)}× A); bare proxy A ${round(oneAtATime.baselineA, 3)} ms, B ${round(oneAtATime.baselineB, 3)} ms (${round(oneAtATime.baselineB / oneAtATime.baselineA, 2)}×); the upstream alone: one call ${round(oneAtATime.upstreamOneCall, 3)} ms, 50 calls ${round(oneAtATime.upstreamFifty, 3)} ms`,
  );
  await Promise.all([gateway.stop(), baseline.stop(), sims.stop()]);

  // ---- C: a cold start, 200 concurrent Platform operations against a fresh process.
  let c: { operations: number; answered: number; ms: number; serviceLogins: number } | undefined;
  if (ONLY.has('C')) {
  const simsC = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, DRIVER_CORE);
  const cold = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...(simsC.first.env as Record<string, string>) }, SERVER_CORE, READY);
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
    const simsD = await start(resolve(DIST, 'bench/simulators.js'), ['--latency', String(LATENCY)], {}, DRIVER_CORE);
    const gwD = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...(simsD.first.env as Record<string, string>) }, SERVER_CORE, READY);
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
          body: JSON.stringify({ query: 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }' }),
          onResponse: (status: number, body: string) => {
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

  // ---- S: 1,000 WebSocket subscribers of one device.
  let subs: SubscriberBenchResult | undefined;
  if (ONLY.has('S')) {
    subs = await runSubscriberBench({
      subscribers: 1000,
      eventsPerSecond: 5,
      seconds: 20,
      startGateway: async (env) => {
        const p = await start(resolve(DIST, 'src/app/main.js'), [], { ...GATEWAY_ENV, ...env }, SERVER_CORE, READY);
        return { url: p.first.url as string, pid: p.child.pid!, stop: p.stop };
      },
    });
    console.log(`S: ${subs.subscribers} subscribers on ${subs.deviceStreams} device stream(s): ${subs.deliveredToAll}/${subs.events} events reached all; delay to the last subscriber p50 ${subs.lastSubscriberDelayMs.p50} ms, p99 ${subs.lastSubscriberDelayMs.p99} ms; ${subs.memoryPerSubscriber.rssKb} KB RSS, ${subs.memoryPerSubscriber.heapKb} KB heap per subscriber`);
  }

  // ---- Report.
  const summary = (rs: LoadResult[]) => ({ rps: round(median(rs.map((x) => x.rps))), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), cpuUsPerRequest: round(median(rs.map((x) => x.cpuUsPerRequest))) });
  const ratios = a.map((x) => x.ratio);
  const report = {
    label: LABEL,
    machine,
    settings: { rounds: ROUNDS, durationSeconds: DURATION, connections: 50, upstreamLatencyMs: LATENCY },
    A: {
      gateway: summary(a.map((x) => x.gateway)),
      baseline: summary(a.map((x) => x.baseline)),
      ratio: { median: round(median(ratios), 3), min: round(Math.min(...ratios), 3), max: round(Math.max(...ratios), 3) },
      // Each other contender: its summary, its ratio to the bare proxy, and how it compares with the gateway.
      others: Object.fromEntries(
        [...(a[0] ? Object.keys(a[0].others) : [])].map((k) => {
          const runs = a.map((x) => x.others[k]!);
          const ratios = a.map((x) => x.others[k]!.rps / x.baseline.rps);
          // Paired by round: each round's difference from the gateway's ratio, so drift between rounds cancels.
          const diffs = a.map((x) => (x.others[k]!.rps - x.gateway.rps) / x.baseline.rps);
          return [k, { ...summary(runs), ratio: round(median(ratios), 3), ratioMinusGateway: { median: round(median(diffs), 3), min: round(Math.min(...diffs), 3), max: round(Math.max(...diffs), 3) }, cpuUsPerRequestOverGateway: round(median(a.map((x) => x.others[k]!.cpuUsPerRequest - x.gateway.cpuUsPerRequest))) }];
        }),
      ),
      checked: a.reduce((n, x) => n + x.gateway.checked + x.baseline.checked, 0),
      bad: a.reduce((n, x) => n + x.gateway.bad + x.baseline.bad + x.gateway.non2xx + x.baseline.non2xx + x.gateway.errors + x.baseline.errors, 0),
      rounds: a,
    },
    B: {
      gateway: summary(b.map((x) => x.gateway)),
      baseline: summary(b.map((x) => x.baseline)),
      ratio: { median: round(median(b.map((x) => x.ratio)), 3), min: round(Math.min(...b.map((x) => x.ratio)), 3), max: round(Math.max(...b.map((x) => x.ratio)), 3) },
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
      },
      // The one-at-a-time runs check every answer, and count here.
      checked: b.reduce((n, x) => n + x.gateway.checked + x.baseline.checked, 0) + serialRuns.reduce((n, x) => n + x.checked, 0),
      bad: b.reduce((n, x) => n + x.gateway.bad + x.baseline.bad + x.gateway.non2xx + x.gateway.errors, 0) + serialRuns.reduce((n, x) => n + x.bad + x.non2xx + x.errors, 0),
      rounds: b,
    },
    C: c,
    D: d,
    S: subs,
  };
  const targets = {
    'A ratio >= 0.60': report.A.ratio.median >= 0.6,
    'A gateway CPU <= 120 µs/req': report.A.gateway.cpuUsPerRequest <= 120,
    'A p99 <= 1.5x baseline p99': report.A.gateway.p99 <= 1.5 * report.A.baseline.p99,
    'B exactly 50 vendor calls per request': report.B.vendorCallsPerRequest.every((x) => x === 50),
    'B time per request <= 3x A (0 ms upstream)': report.B.oneAtATimeMs.ratio <= 3,
    ...(c ? { 'C exactly 1 service login': c.serviceLogins === 1 } : {}),
    ...(d ? { 'D never more than the budget in 60 s': d.maxInAny60sWindow! <= 300, 'D every request answered': d.otherAnswers === 0 } : {}),
    'every sampled answer right': report.A.bad === 0 && report.B.bad === 0,
    ...(subs ? { 'S one device stream for all subscribers': subs.deviceStreams === 1, 'S every event reached every subscriber': subs.deliveredToAll === subs.events } : {}),
  };
  const stamp = machine.date.replace(/[:.]/g, '-');
  const json = { ...report, targets };
  writeFileSync(resolve(OUT, `${stamp}-${LABEL}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(resolve(OUT, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = markdown(json);
  writeFileSync(resolve(OUT, 'latest.md'), md);
  writeFileSync(resolve(OUT, 'chart.svg'), chartSvg({ ratio: report.A.ratio.median, cpu: report.A.gateway.cpuUsPerRequest, baselineCpu: report.A.baseline.cpuUsPerRequest, label: LABEL }));
  if (!existsSync(resolve(OUT, 'history.md'))) {
    writeFileSync(resolve(OUT, 'history.md'), '# Benchmark history\n\n| when (UTC) | label | A req/s | A ratio | A CPU µs/req | A p99 ms gateway / proxy | B ÷ A time, one at a time | C service logins | D most in 60 s |\n|---|---|---|---|---|---|---|---|---|\n');
  }
  appendFileSync(
    resolve(OUT, 'history.md'),
    `| ${machine.date.slice(0, 16)} | ${LABEL} | ${report.A.gateway.rps} | ${report.A.ratio.median} (${report.A.ratio.min}–${report.A.ratio.max}) | ${report.A.gateway.cpuUsPerRequest} | ${report.A.gateway.p99} / ${report.A.baseline.p99} | ${report.B.oneAtATimeMs.ratio} | ${c ? c.serviceLogins : '–'} | ${d ? d.maxInAny60sWindow : '–'} |\n`,
  );
  console.log(`\n${md}`);
}

function markdown(r: any): string {
  const row = (name: string, s: any) => `| ${name} | ${s.rps} | ${s.p50} | ${s.p99} | ${s.cpuUsPerRequest} |`;
  const lines = [
    `### ${r.label}: ${r.machine.date.slice(0, 10)}, ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}`,
    '',
    `${r.settings.rounds} interleaved rounds of ${r.settings.durationSeconds} s, ${r.settings.connections} connections, upstream latency ${r.settings.upstreamLatencyMs} ms; ${r.machine.pinned}.`,
    '',
    '| workload / server | req/s (median) | p50 ms | p99 ms | server CPU µs/req |',
    '|---|---|---|---|---|',
    row('A: bare proxy (node:http + undici)', r.A.baseline),
    row('A: Switchboard, one `nuveqUser` with a session', r.A.gateway),
    ...Object.entries(r.A.others ?? {}).map(([k, v]: [string, any]) => row(k === 'traced' ? 'A: Switchboard with tracing on (every request, OTLP to a local receiver)' : `A: ${k}`, v)),
    row('B: bare proxy, 50 distinct users', r.B.baseline),
    row('B: Switchboard, `nuveqUsers` of 100 ids (50 distinct)', r.B.gateway),
    '',
    `- **A** ratio to the bare proxy (median of rounds, min–max): **${r.A.ratio.median}** (${r.A.ratio.min}–${r.A.ratio.max}); sampled answers checked: ${r.A.checked}, wrong: ${r.A.bad}.`,
    ...Object.entries(r.A.others ?? {}).map(([k, v]: [string, any]) => `- **A, ${k}**: ratio ${v.ratio} (the gateway's ${r.A.ratio.median} in the same rounds; paired by round, ${k} minus gateway: ${v.ratioMinusGateway?.median} (${v.ratioMinusGateway?.min} to ${v.ratioMinusGateway?.max})); CPU per request ${v.cpuUsPerRequestOverGateway >= 0 ? '+' : ''}${v.cpuUsPerRequestOverGateway} µs beside the gateway's.`),
    `- **B** vendor calls per request: ${r.B.vendorCallsPerRequest.join(', ')}; one request at a time: A ${r.B.oneAtATimeMs.A} ms, B ${r.B.oneAtATimeMs.B} ms (**${r.B.oneAtATimeMs.ratio}×** A; the bare proxy making the same calls: ${r.B.oneAtATimeMs.baselineA} ms and ${r.B.oneAtATimeMs.baselineB} ms, ${r.B.oneAtATimeMs.baselineRatio}×; the 50 vendor calls alone, made straight from the server's core: ${r.B.oneAtATimeMs.upstreamFiftyCalls} ms, **${r.B.oneAtATimeMs.upstreamFiftyCallsRatioToA}×** A, one call ${r.B.oneAtATimeMs.upstreamOneCall} ms); ratio to the bare proxy ${r.B.ratio.median} (${r.B.ratio.min}–${r.B.ratio.max}); checked ${r.B.checked}, wrong ${r.B.bad}.`,
    r.C ? `- **C** cold start: ${r.C.answered}/${r.C.operations} Platform operations answered in ${r.C.ms} ms with **${r.C.serviceLogins}** service login(s).` : '- **C** skipped in this run.',
    r.D
      ? `- **D** ${r.D.offeredPerSecond} req/s for ${r.D.seconds} s against a ${r.D.budgetPerMinute}/min budget: ${r.D.requests} requests, ${r.D.answeredWithData} with data, ${r.D.answeredRateLimited} RATE_LIMITED with retryAfter, ${r.D.otherAnswers} other; most calls in any 60 s window at the vendor: **${r.D.maxInAny60sWindow}**.`
      : '- **D** skipped in this run.',
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

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
