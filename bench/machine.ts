import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * Where the bench runs its processes: servers on core 0, the simulators and the load generator
 * on core 1, pinned with taskset when the machine has it and more than one core.
 */
export const pinned = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return cpus().length > 1;
  } catch {
    return false;
  }
})();
export const SERVER_CORE = '0';
export const DRIVER_CORE = String(Math.min(1, cpus().length - 1));

/**
 * Pins this process (the load generator) to the driver's core. Every thread (-a): V8's helper
 * threads already run, and left unpinned the load generator's GC could take the server's core.
 */
export function pinSelf(): void {
  if (pinned) execFileSync('taskset', ['-a', '-cp', DRIVER_CORE, String(process.pid)], { stdio: 'ignore' });
}

/**
 * Node flags for every server the bench starts (the gateway, the bare proxy, the Apollo setups,
 * the floor), never for the simulators or the load generator: `--node-flags
 * '--max-semi-space-size=64'` measures a runtime setting with every contender on it.
 */
export function serverNodeFlags(): string[] {
  return option('node-flags', '').split(' ').filter(Boolean);
}

/** A command-line option's value (`--name value`), or `fallback`. */
export function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Other gateway builds named on the command line (`--compare NAME=path/to/main.js`, repeatable). */
export function compareBuilds(): Array<[string, string]> {
  return process.argv.flatMap((a, i) => {
    const given = a === '--compare' ? process.argv[i + 1] : undefined;
    const at = given?.indexOf('=') ?? -1;
    // Split at the first '=': what follows may hold node flags with their own.
    return given && at > 0 ? [[given.slice(0, at), given.slice(at + 1)] as [string, string]] : [];
  });
}

/** CPU time a process has used (user and system), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}
