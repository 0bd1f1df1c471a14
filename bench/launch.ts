import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { commandFor, type Role } from './machine.js';

/** A process a bench script started, once it said it was ready. */
export interface Launched {
  child: ChildProcess;
  /** Its first JSON line, or `{ url }` from the line `ready` matched. */
  first: Record<string, any>;
  /** Its exit code (null when a signal ended it), once it has exited and its output is read. */
  exited: Promise<number | null>;
  /**
   * SIGTERM, then SIGKILL if it is still there after `killAfterMs`; resolves once it has exited.
   * Asked again meanwhile, it sends nothing more (a second SIGTERM makes the gateway exit at once).
   */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  role: Role;
  /**
   * Its working directory: the script's own by default, so that a `.env` in the repository (the
   * gateway loads one from its working directory) never reaches a measured process.
   */
  cwd?: string;
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
/** The longest stdout line read while waiting for it to be ready. */
const MAX_LINE = 64 * 1024;

/** Every process launched and not yet exited, with what stops it: what `stopAll` stops. */
const running = new Map<ChildProcess, () => Promise<void>>();

/**
 * Starts a node script in its role (bench/machine.ts: its core and Node flags) and resolves once
 * it is ready. It fails, with the end of what the process said on stderr, when the process exits
 * first, begins a line with `{` that is not JSON (when a JSON line is awaited), or says nothing
 * ready within `startMs`; a process that failed to start is stopped before the failure is told.
 */
export function launch(script: string, options: LaunchOptions): Promise<Launched> {
  const [cmd, argv] = commandFor(options.role, script, options.args ?? [], options.ownFlags ?? []);
  const child = spawn(cmd, argv, { cwd: options.cwd ?? dirname(script), env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let ended = '';
  // 'close', not 'exit': by then all it wrote is read (a script may print its result and exit at once).
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      // The first word on how it ended stands (see 'error' below).
      ended ||= signal ? `was ended by ${signal}` : `exited with code ${code}`;
      resolveExit(code);
    });
    // A process that cannot be spawned at all (no such command or working directory) emits 'error'
    // first (and, on Node 20, a 'close' with code -2 after it).
    child.once('error', (error) => {
      running.delete(child);
      ended ||= `could not be started (${error.message})`;
      resolveExit(null);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!running.has(child)) return exited.then(() => undefined);
    if (!stopping) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 10_000);
      stopping = exited.then(() => clearTimeout(killer));
    }
    return stopping;
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
      // Told once the process is gone: the caller never sees a failed start still running.
      void stop().then(() => reject(new Error(`${script} ${why}${stderr ? `; its stderr ends: ${stderr}` : ''}`)));
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
      if (pending.length > MAX_LINE) fail(`wrote ${MAX_LINE} bytes without ending a line`);
    };
    const timer = setTimeout(() => fail(`was not ready within ${options.startMs ?? 30_000} ms`), options.startMs ?? 30_000);
    child.stdout!.on('data', onData);
    void exited.then(() => fail(`${ended} before it was ready`));
  });
}

/** Stops every process still running: a bench run that fails partway leaves none behind. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running.values()].map((stop) => stop()));
}

let handling = false;

/**
 * For a bench script's own process: stopped from outside (Ctrl-C, a CI job cancelled, `timeout`)
 * or by an error nothing caught, it stops what it started before it exits; its children would
 * otherwise outlive it, pinned to the cores the next run measures on.
 */
export function stopAllOnSignals(): void {
  if (handling) return;
  handling = true;
  const exitAfterStopping = (code: number) => () => void stopAll().finally(() => process.exit(code));
  process.once('SIGINT', exitAfterStopping(130));
  process.once('SIGTERM', exitAfterStopping(143));
  process.once('SIGHUP', exitAfterStopping(129));
  process.once('uncaughtException', (error) => {
    console.error(error);
    exitAfterStopping(1)();
  });
}

/** Processes launched and not yet exited (for tests). */
export function launchedCount(): number {
  return running.size;
}
