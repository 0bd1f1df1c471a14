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
 * the floor), never for the simulators, the load generator or workload M's process: `--node-flags
 * '--max-semi-space-size=64'` measures a runtime setting with every contender on it. Split on
 * spaces: a flag's value cannot hold one.
 */
export function serverNodeFlags(argv: readonly string[] = process.argv): string[] {
  return option('node-flags', '', argv, true).split(' ').filter(Boolean);
}

/**
 * A command-line option's value (`--name value`), or `fallback` when the option is not given. Given
 * without a value, or followed by another option (`--out --label x`), it stops the run rather than
 * quietly using the fallback (for `--out`, the committed results); a value may start with `--`
 * only where it is made of flags (`--node-flags`).
 */
export function option(name: string, fallback: string, argv: readonly string[] = process.argv, flags = false): string {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (!value || (!flags && value.startsWith('--'))) throw new Error(`--${name} needs a value`);
  return value;
}

/**
 * Stops the run on an option the script does not take: `--duraton 10` would otherwise run for the
 * default duration and say nothing. `valued` options take the next argument as their value.
 */
export function onlyOptions(valued: readonly string[], switches: readonly string[], argv: readonly string[] = process.argv): void {
  for (let i = 2; i < argv.length; i++) {
    const name = argv[i]!.startsWith('--') ? argv[i]!.slice(2) : '';
    if (valued.includes(name)) i++;
    else if (!switches.includes(name)) {
      const known = [...valued, ...switches].map((n) => `--${n}`).join(', ');
      throw new Error(`unknown option ${JSON.stringify(argv[i])}; this script takes ${known}`);
    }
  }
}

/** What a started process is: a server under measurement (core 0), or a driver (the simulators). */
export type Role = 'server' | 'driver';
const coreOf = (role: Role): string => (role === 'server' ? SERVER_CORE : DRIVER_CORE);

/**
 * The command and arguments that start a node script in its role: pinned to the role's core where
 * taskset exists; a server with the run's Node flags (`--node-flags`) and then its own.
 */
export function commandFor(role: Role, script: string, args: string[] = [], ownFlags: string[] = [], argv: readonly string[] = process.argv, pin = pinned): [string, string[]] {
  const node = [...(role === 'server' ? [...serverNodeFlags(argv), ...ownFlags] : []), script, ...args];
  return pin ? ['taskset', ['-c', coreOf(role), process.execPath, ...node]] : [process.execPath, node];
}

/** Another gateway build to load beside this one: its entry file and Node flags for it alone. */
export interface CompareBuild {
  name: string;
  main: string;
  flags: string[];
}

/**
 * Other gateway builds named on the command line (`--compare 'NAME=path/to/main.js [--flag ...]'`,
 * repeatable): the name ends at the first '=', the path at the first ' --' (so a path may hold
 * spaces), and what follows are Node flags. A value without a name or a path stops the run.
 */
export function compareBuilds(argv: readonly string[] = process.argv): CompareBuild[] {
  return argv.flatMap((a, i) => {
    if (a !== '--compare') return [];
    const given = argv[i + 1] ?? '';
    const at = given.indexOf('=');
    const rest = at > 0 ? given.slice(at + 1) : '';
    const flagsAt = rest.indexOf(' --');
    const main = (flagsAt < 0 ? rest : rest.slice(0, flagsAt)).trim();
    if (!main) throw new Error(`--compare wants NAME=path/to/dist/src/app/main.js [node flags], not ${JSON.stringify(given)}`);
    return [{ name: given.slice(0, at), main, flags: flagsAt < 0 ? [] : rest.slice(flagsAt).split(' ').filter(Boolean) }];
  });
}

/** CPU time a process has used (user and system), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}
