import { isIP } from 'node:net';

export type Env = Record<string, string | undefined>;

/**
 * Reads environment variables for configuration. Every reader records what is wrong with its
 * variable, by name, and returns a fallback, so that one start-up lists every problem at once.
 * No message ever quotes a value: the value of a misspelt variable is as likely to be a secret
 * as anything else.
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(
    readonly env: Env,
    /** Where relative paths (device files, CA files) are read from. */
    readonly cwd: string,
  ) {}

  /** Present and not blank: an empty `FOO=` line in `.env` counts as unset. */
  given(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  /** The variables set (not blank) whose names start with `prefix`. */
  setWithPrefix(prefix: string): string[] {
    return Object.keys(this.env).filter((k) => k.startsWith(prefix) && this.given(k) !== undefined);
  }

  problem(name: string, what: string): void {
    this.problems.push(`${name}: ${what}`);
  }

  string(name: string, fallback: string): string {
    return this.given(name) ?? fallback;
  }

  required(name: string, why = 'is required'): string | undefined {
    const v = this.given(name);
    if (v === undefined) this.problem(name, why);
    return v;
  }

  int(name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.given(name);
    if (raw === undefined) return fallback;
    const n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problem(name, `must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.given(name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    this.problem(name, 'must be true or false');
    return fallback;
  }

  duration(name: string, fallback: number): number {
    const raw = this.given(name);
    if (raw === undefined) return fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms <= 0) {
      this.problem(name, 'must be a duration such as 30s, 15m, 8h or 1d');
      return fallback;
    }
    return ms;
  }

  /** An http(s) URL without credentials, trailing slashes removed. */
  url(name: string, fallback?: string): string | undefined {
    const raw = this.given(name) ?? fallback;
    if (raw === undefined) return undefined;
    if (!isHttpUrl(raw)) {
      this.problem(name, 'must be an http(s) URL without credentials');
      return undefined;
    }
    return raw.replace(/\/+$/, '');
  }

  /** Comma-separated, blanks dropped. */
  list(name: string): string[] {
    return (this.given(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
}

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

export function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}
