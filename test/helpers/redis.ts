import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts it again, empty: nothing survives a stop. */
  start(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets open but answers nothing, like a hung host. */
  freeze(): void;
  thaw(): void;
  /** A plain client for looking at what the gateway stored (no key prefix). */
  client(): Redis;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A real redis-server on a free loopback port, without persistence, started and stopped by the
 * test (CI installs the Debian package when it is missing).
 */
export async function startRedis(): Promise<RedisServer> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (.ci/run does this)');
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      // A fresh working directory each time, so no dump.rdb from anywhere can be loaded.
      dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
        child!.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('Ready to accept connections')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child!.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
      });
    },
    async stop() {
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        await new Promise<void>((r) => {
          const kill = setTimeout(() => c.kill('SIGKILL'), 5_000);
          c.once('exit', () => {
            clearTimeout(kill);
            r();
          });
          // A frozen server acts on SIGTERM only once it runs again.
          c.kill('SIGCONT');
          c.kill('SIGTERM');
        });
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    client() {
      return new Redis(server.url, { maxRetriesPerRequest: 1 });
    },
  };
  await server.start();
  return server;
}

/** `n` distinct free loopback ports (all held at once, so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

function cli(port: number, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 }, (error, stdout) => (error ? reject(error) : resolvePromise(stdout)));
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Without persistence, each node in its own directory, replicas synced at once (no 5 s delay). */
const NODE_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'];

/** redis-server processes owned by the test: started in the foreground, killed by pid. */
class Processes {
  readonly dir = mkdtempSync(join(tmpdir(), 'sb-redis-set-'));
  private readonly procs = new Map<string, ChildProcess>();

  start(name: string, args: string[]): ChildProcess {
    mkdirSync(join(this.dir, name), { recursive: true });
    const child = spawn('redis-server', [...args, '--dir', join(this.dir, name)], { stdio: 'ignore' });
    this.procs.set(name, child);
    return child;
  }

  signal(name: string, signal: NodeJS.Signals): void {
    this.procs.get(name)?.kill(signal);
  }

  async kill(name: string): Promise<void> {
    const child = this.procs.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((name) => this.kill(name)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface RedisCluster {
  /** Seed nodes as REDIS_CLUSTER_NODES takes them. */
  nodes: string;
  ports: number[];
  /** A plain client per primary (no key prefix), for looking at what was stored. */
  clients(): Redis[];
  stop(): Promise<void>;
}

/** A Cluster of `masters` primaries (no replicas), made with `redis-cli --cluster create`. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const procs = new Processes();
  const all = await freePorts(masters * 2);
  const ports = all.slice(0, masters);
  ports.forEach((port, i) =>
    procs.start(String(port), ['--port', String(port), '--cluster-enabled', 'yes', '--cluster-port', String(all[masters + i]), '--cluster-config-file', join(procs.dir, String(port), 'nodes.conf'), '--cluster-node-timeout', '2000', ...NODE_ARGS]),
  );
  try {
    for (const port of ports) await until(`node ${port}`, async () => (await cli(port, ['ping'])).includes('PONG'));
    await cli(ports[0]!, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) await until(`cluster_state:ok on ${port}`, async () => (await cli(port, ['cluster', 'info'])).includes('cluster_state:ok'));
  } catch (error) {
    await procs.stop();
    throw error;
  }
  return {
    nodes: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    clients: () => ports.map((port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })),
    stop: () => procs.stop(),
  };
}

export interface SentinelSet {
  /** As REDIS_SENTINELS takes them. */
  sentinels: string;
  name: string;
  /** The ports of the first primary and its replica. */
  primary: number;
  replica: number;
  /** SIGKILL the first primary. */
  killPrimary(): Promise<void>;
  /** SIGSTOP / SIGCONT the first replica: connected, acknowledging nothing. */
  freezeReplica(): void;
  thawReplica(): void;
  /** The port the Sentinels name as primary now. */
  currentPrimary(): Promise<number>;
  stop(): Promise<void>;
}

/** One primary, one replica and three Sentinels (quorum 2, down after 1 s), pre-introduced. */
export async function startSentinelSet(name = 'sbmaster'): Promise<SentinelSet> {
  const procs = new Processes();
  const [primary, replica, ...sentinels] = (await freePorts(5)) as [number, number, number, number, number];
  procs.start('primary', ['--port', String(primary), ...NODE_ARGS]);
  procs.start('replica', ['--port', String(replica), '--replicaof', '127.0.0.1', String(primary), ...NODE_ARGS]);
  try {
    await until('the replica’s link', async () => (await cli(replica, ['info', 'replication'])).includes('master_link_status:up'));
    const ids = new Map(sentinels.map((p) => [p, randomBytes(20).toString('hex')]));
    for (const port of sentinels) {
      // Sentinel rewrites its configuration: one writable file each.
      const conf = join(procs.dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${procs.dir}`,
          `sentinel myid ${ids.get(port)}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel known-replica ${name} 127.0.0.1 ${replica}`,
          ...sentinels.filter((o) => o !== port).map((o) => `sentinel known-sentinel ${name} 127.0.0.1 ${o} ${ids.get(o)}`),
          '',
        ].join('\n'),
      );
      procs.start(`sentinel-${port}`, [conf, '--sentinel']);
    }
    for (const port of sentinels) {
      await until(`sentinel ${port}`, async () => /num-slaves\n1\nnum-other-sentinels\n2\n/.test(await cli(port, ['sentinel', 'master', name])));
      await until(`sentinel ${port} sees the replica`, async () => /flags\nslave\n/.test(await cli(port, ['sentinel', 'replicas', name])));
    }
  } catch (error) {
    await procs.stop();
    throw error;
  }
  return {
    sentinels: sentinels.map((p) => `127.0.0.1:${p}`).join(','),
    name,
    primary,
    replica,
    killPrimary: () => procs.kill('primary'),
    freezeReplica: () => procs.signal('replica', 'SIGSTOP'),
    thawReplica: () => procs.signal('replica', 'SIGCONT'),
    async currentPrimary() {
      const [, port] = (await cli(sentinels[0]!, ['sentinel', 'get-master-addr-by-name', name])).trim().split('\n');
      return Number(port);
    },
    stop: () => procs.stop(),
  };
}
