import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VENDORS } from '../../src/vendors/registry.js';

export const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');

/** This process' environment without anything that configures a gateway (vendors, demo, sessions, Redis, where to listen). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const prefixes = [...VENDORS.map((m) => m.prefix), 'DEMO', 'SESSION_', 'REDIS_', 'PORT', 'HOST'];
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !prefixes.some((p) => k.startsWith(p))));
}

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/**
 * Runs src/app/main.ts in its own process (through tsx, so no build is needed) and resolves once it
 * prints where it listens.
 */
export function spawnGateway(
  env: Record<string, string>,
  timeoutMs = 30_000,
  options: { cwd?: string; command?: [string, ...string[]] } = {},
): Promise<GatewayProcess> {
  const clean = cleanEnv();
  // tsx by path, so the server can run from any working directory (`.env` is read from there).
  const [command, ...args] = options.command ?? [process.execPath, '--import', pathToFileURL(resolve(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, resolve(ROOT, 'src/app/main.ts')];
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...clean, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start in time:\n${out}\n${err}`));
    }, timeoutMs);
    const check = () => {
      const m = /GraphQL:\s+(http:\/\/\S+)\/graphql/.exec(out);
      if (m && (out.includes('Demo logins') ? /Authorization: Bearer|Could not prepare/.test(out) : true)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolvePromise({ child, url: m[1]!, stdout: () => out, stderr: () => err, exit });
      }
    };
    child.stdout!.on('data', check);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
}

/** Polls `check` (every 100 ms; a throw counts as false) until true; the time it took. */
export async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms`);
}

/** Whether a gateway process answers /ready with 200. */
export const ready = async (p: GatewayProcess): Promise<boolean> => (await fetch(`${p.url}/ready`)).status === 200;
