import { spawn, type ChildProcess } from 'node:child_process';
import { commandFor, type Role } from './machine.js';

/** A process a bench script started, once it said it was ready. */
export interface Launched {
  child: ChildProcess;
  /** Its first JSON line, or `{ url }` from the line `ready` matched. */
  first: Record<string, any>;
  /** Its exit code (null when a signal ended it), once it has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it is still there after `killAfterMs`; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  role: Role;
  /** The working directory (the repository). */
  cwd: string;
  /** Its whole environment, PATH aside: nothing else of the bench's own leaks into a measured process. */
  env: Record<string, string>;
  args?: string[];
  /** Node flags for this process alone (a `--compare` build's), after the run's own. */
  ownFlags?: string[];
  /** A line that says it is ready, with its URL as the first group; without it, the first JSON line. */
  ready?: RegExp;
  /** How long it may take to say so (30 s). */
  startMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL (10 s). */
  killAfterMs?: number;
}

/** How much of a process' stderr an error quotes (the end of it). */
const STDERR_TAIL = 4096;

/** Every process launched and not yet exited, with what stops it: what `stopAll` stops. */
const running = new Map<ChildProcess, () => Promise<void>>();

/**
 * Starts a node script in its role (bench/machine.ts: its core and Node flags) and resolves once
 * it is ready. It fails, with the end of what the process said on stderr, when the process exits
 * first, begins a line with `{` that is not JSON (when a JSON line is awaited), or says nothing
 * ready within `startMs`; a process that failed to start is stopped, never left running.
 */
export function launch(script: string, options: LaunchOptions): Promise<Launched> {
  const [cmd, argv] = commandFor(options.role, script, options.args ?? [], options.ownFlags ?? []);
  const child = spawn(cmd, argv, { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolveExit(code);
    });
    // A script that cannot be spawned at all emits 'error' and no 'exit'.
    child.once('error', () => {
      running.delete(child);
      resolveExit(null);
    });
  });
  const stop = (): Promise<void> => {
    if (!running.has(child)) return exited.then(() => undefined);
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 10_000);
    return exited.then(() => clearTimeout(killer));
  };
  running.set(child, stop);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-STDERR_TAIL)));
  return new Promise((resolveStart, reject) => {
    let pending = '';
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const error = new Error(`${script} ${why}${stderr ? `; its stderr ends: ${stderr}` : ''}`);
      // Rejected once the process is gone: the caller never sees a failed start still running.
      void stop().then(() => reject(error));
    };
    const started = (first: Record<string, any>) => {
      settled = true;
      clearTimeout(timer);
      // Keep draining stdout (the gateway logs at info) so the pipe never blocks it.
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolveStart({ child, first, exited, stop });
    };
    const onData = (c: Buffer) => {
      if (settled) return;
      pending += c.toString();
      const lines = pending.split('\n');
      // The last piece may be a line still arriving: only whole lines are read.
      pending = lines.pop()!;
      for (const line of lines) {
        if (options.ready) {
          const url = options.ready.exec(line)?.[1];
          if (url) return started({ url });
        } else if (line.startsWith('{')) {
          try {
            return started(JSON.parse(line) as Record<string, any>);
          } catch {
            return fail(`began a line with "{" that is not JSON: ${line.slice(0, 200)}`);
          }
        }
      }
      if (pending.length > 64 * 1024) fail('wrote 64 KB without ending a line');
    };
    const timer = setTimeout(() => fail(`was not ready within ${options.startMs ?? 30_000} ms`), options.startMs ?? 30_000);
    child.stdout!.on('data', onData);
    child.once('error', (error) => fail(`could not be started: ${error.message}`));
    void exited.then((code) => fail(`exited (${code}) before it was ready`));
  });
}

/** Stops every process still running: a bench run that fails partway leaves none behind. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running.values()].map((stop) => stop()));
}

/** Processes launched and not yet exited (for tests). */
export function launchedCount(): number {
  return running.size;
}
