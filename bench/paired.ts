import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { GATEWAY_ENV, KNOWN_USERS, LOGIN, READY, USER_QUERY } from './workload-a.js';
import { appendHistory } from './history.js';
import { launch, stopAll, stopAllOnSignals } from './launch.js';
import { compareBuilds, cpuSeconds, DRIVER_CORE, onlyOptions, option, pinned, pinSelf, SERVER_CORE, serverNodeFlags, type Role } from './machine.js';

/**
 * `npm run bench:paired`: workload A on two servers loaded at the same time, sharing the server's
 * one core, so that whatever the machine does in a round it does to both. `npm run bench` loads
 * its contenders one after another, and this machine's speed drifts between two such loads by
 * more than a step on the hot path changes; loaded at once, the ratio of CPU per request holds to
 * a few percent from round to round.
 *
 * Pairs: the gateway beside a second process of the same build (the method's own noise: its ratio
 * should be 1), beside each `--compare` build, and, for context, beside the bare proxy and the
 * tuned Apollo Server. Which load starts first alternates by round. Every tenth answer is checked.
 *
 * What it is fair for: two builds of the gateway, which have one footprint. Two processes taking
 * turns on a core also share its caches, and a server with a larger working set loses more to
 * that than it would alone (the tuned Apollo Server measured 2.0-2.6x the gateway's CPU per
 * request here, against 1.5-1.8x loaded alone): across different servers, `npm run bench` is the
 * measure.
 *
 * Options: --rounds N (9), --seconds S (4), --connections N (25 per server), --label TEXT,
 *          --compare 'NAME=path/to/dist/src/app/main.js [node flags]' (repeatable: another build of
 *          the gateway, or the same one run with other flags: 'semi64=dist/src/app/main.js --max-semi-space-size=64'),
 *          --node-flags 'FLAGS' (every server, the gateway's builds and the alternatives, run with them),
 *          --out DIR (write the JSON and the history line there instead of bench/results)
 */

const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const DIST = resolve(ROOT, 'dist');
/** Where results go: bench/results unless `--out DIR`. */
const OUT = resolve(option('out', resolve(ROOT, 'bench/results')));

onlyOptions(['out', 'rounds', 'seconds', 'connections', 'label', 'compare', 'node-flags'], []);
const ROUNDS = Number(option('rounds', '9'));
const SECONDS = Number(option('seconds', '4'));
const CONNECTIONS = Number(option('connections', '25'));
const LABEL = option('label', 'paired');
const COMPARE = compareBuilds();
const NODE_FLAGS = serverNodeFlags();
pinSelf();
stopAllOnSignals();

const KNOWN = KNOWN_USERS;

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
  path: string;
  headers: Record<string, string>;
  bodies: string[];
  check: (body: string) => boolean;
  turn: number;
}

/** Starts a node script in its role (bench/launch.ts), resolving with its first JSON line or, given `ready`, the URL in the line it matches. */
const start = (script: string, env: Record<string, string>, role: Role, ready?: RegExp, ownFlags: string[] = []) => launch(script, { env, role, ready, ownFlags });

const answered = (pick: (data: any) => boolean) => (body: string) => {
  try {
    const parsed = JSON.parse(body) as { data?: any; errors?: unknown };
    return !parsed.errors && pick(parsed.data);
  } catch {
    return false;
  }
};

async function gateway(name: string, main: string, simEnv: Record<string, string>, nodeFlags: string[] = []): Promise<Server> {
  const { child, first } = await start(main, { ...GATEWAY_ENV, ...simEnv }, 'server', READY, nodeFlags);
  const url = first.url as string;
  const login = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: LOGIN }),
  });
  const token = ((await login.json()) as { data: { loginClient: { token: string } } }).data.loginClient.token;
  const bodies = KNOWN.map((id) => JSON.stringify({ query: USER_QUERY, variables: { id } }));
  return { name, child, url, path: '/graphql', headers: { authorization: `Bearer ${token}` }, bodies, check: answered((d) => KNOWN.includes(d.nuveqUser?.userId) && typeof d.nuveqUser.department?.name === 'string'), turn: 0 };
}

async function other(name: string, script: string, simEnv: Record<string, string>): Promise<Server> {
  const { child, first } = await start(script, { NODE_ENV: 'production', ...simEnv }, 'server');
  const url = first.url as string;
  if (name === 'baseline') {
    return { name, child, url, path: '/user', headers: {}, bodies: KNOWN.map((userId) => JSON.stringify({ userId })), check: answered((d) => typeof d?.data?.name === 'string'), turn: 0 };
  }
  return { name, child, url, path: '/graphql', headers: {}, bodies: KNOWN.map((id) => JSON.stringify({ query: USER_QUERY, variables: { id } })), check: answered((d) => KNOWN.includes(d.nuveqUser?.userId)), turn: 0 };
}

interface Load {
  requests: number;
  cpuUsPerRequest: number;
  rps: number;
}

/** One server's share of a round: its load and the CPU it used meanwhile. */
async function load(server: Server, seconds: number): Promise<Load> {
  let seen = 0;
  let bad = 0;
  const before = cpuSeconds(server.child.pid!);
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: server.path,
        headers: { 'content-type': 'application/json', ...server.headers },
        body: server.bodies[0],
        setupRequest: (req: autocannon.Request) => ({ ...req, body: server.bodies[server.turn++ % server.bodies.length]! }),
        onResponse: (status: number, body: string) => {
          if (seen++ % 10 === 0 && (status !== 200 || !server.check(body))) bad++;
        },
      },
    ],
  });
  const requests = result.requests.total;
  if (result.non2xx || result.errors || bad || requests === 0) throw new Error(`${server.name}: ${result.non2xx} not 2xx, ${result.errors} errors, ${bad} wrong answers of ${requests}`);
  return { requests, cpuUsPerRequest: ((cpuSeconds(server.child.pid!) - before) * 1e6) / requests, rps: result.requests.average };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, pinned: pinned ? `servers on core ${SERVER_CORE}, simulators and load on core ${DRIVER_CORE}` : 'no taskset: not pinned', date: new Date().toISOString(), ...(NODE_FLAGS.length ? { nodeFlags: NODE_FLAGS.join(' ') } : {}) };
  console.log(`Paired A (${LABEL}) on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${machine.pinned}`);
  const sims = await start(resolve(DIST, 'bench/simulators.js'), {}, 'driver');
  const simEnv = sims.first.env as Record<string, string>;
  const mainJs = resolve(DIST, 'src/app/main.js');
  const servers: Server[] = [];
  try {
    const gw = await gateway('gateway', mainJs, simEnv);
    servers.push(gw);
    const others = [await gateway('gateway-again', mainJs, simEnv)];
    for (const build of COMPARE) others.push(await gateway(build.name, resolve(build.main), simEnv, build.flags));
    others.push(await other('baseline', resolve(DIST, 'bench/baseline.js'), simEnv), await other('apollo-tuned', resolve(DIST, 'bench/apollo/tuned.js'), simEnv));
    servers.push(...others);
    for (const s of servers) await load(s, 2);
    const pairs: Record<string, { ratios: number[]; gateway: Load[]; other: Load[] }> = {};
    for (const o of others) {
      const rows = (pairs[o.name] = { ratios: [] as number[], gateway: [] as Load[], other: [] as Load[] });
      // An uncounted round first: a server idle through the pairs before this one comes back slower
      // (its first counted round measured up to 1.4x the rest).
      await both(load(gw, 2), () => load(o, 2));
      for (let r = 0; r < ROUNDS; r++) {
        // Started in turn, gateway first in even rounds: the first load started gets a head start.
        const [g, x] = r % 2 === 0 ? await both(load(gw, SECONDS), () => load(o, SECONDS)) : (await both(load(o, SECONDS), () => load(gw, SECONDS))).reverse();
        rows.gateway.push(g!);
        rows.other.push(x!);
        rows.ratios.push(x!.cpuUsPerRequest / g!.cpuUsPerRequest);
      }
      console.log(`${o.name}: CPU per request ${round(median(rows.other.map((l) => l.cpuUsPerRequest)), 1)} µs against the gateway's ${round(median(rows.gateway.map((l) => l.cpuUsPerRequest)), 1)}; ${o.name}/gateway by round ${rows.ratios.map((x) => round(x, 3)).join(' ')} (median ${round(median(rows.ratios), 3)})`);
    }
    const summary = Object.fromEntries(
      Object.entries(pairs).map(([name, rows]) => [
        name,
        { ratio: { median: round(median(rows.ratios), 3), min: round(Math.min(...rows.ratios), 3), max: round(Math.max(...rows.ratios), 3), byRound: rows.ratios.map((x) => round(x, 3)) }, gatewayUs: round(median(rows.gateway.map((l) => l.cpuUsPerRequest)), 1), otherUs: round(median(rows.other.map((l) => l.cpuUsPerRequest)), 1) },
      ]),
    );
    // "-dirty" when the measured code is not all committed.
    const commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT }).toString().trim();
    const file = resolve(OUT, `${machine.date.replace(/[:.]/g, '-')}-${LABEL}.json`);
    writeFileSync(file, `${JSON.stringify({ kind: 'paired', label: LABEL, commit, machine, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, compared: COMPARE, pairs: summary }, null, 2)}\n`);
    const line = Object.entries(summary).map(([name, s]) => `${name}/gateway ${s.ratio.median} (${s.ratio.min}–${s.ratio.max})`).join(', ');
    appendHistory(OUT, `| ${machine.date.slice(0, 16)} | ${LABEL} *(paired, ${commit}${NODE_FLAGS.length ? `, servers run with ${NODE_FLAGS.join(' ')}` : ''})* | *CPU per A request, each beside the gateway, loaded at once: ${line}* |`);
    console.log(`written: ${file}`);
  } finally {
    await stopAll();
  }
}

/** The first load, and the second started right after it. */
async function both(first: Promise<Load>, second: () => Promise<Load>): Promise<Load[]> {
  return Promise.all([first, second()]);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
