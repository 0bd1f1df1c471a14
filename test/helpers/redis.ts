import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
