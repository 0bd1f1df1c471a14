import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Configuration is read once, at start-up, from the environment (and `.env`). Every problem is
 * collected and reported together, variable by variable, and no message ever quotes a value:
 * the value of a misspelt variable is as likely to be a secret as anything else.
 */

export interface NurevaDeviceConfig {
  id: string;
  name: string;
  url: string;
  fingerprint256?: string;
  /** PEM text of the CA, read at start-up from the `ca` path. */
  ca?: string;
  insecureTls: boolean;
}

export interface NuveqConfig {
  url: string;
  port: string;
  apiId: number;
  tokenKey: string;
  allowAnonymous: boolean;
  concurrency: number;
  timeZone: string;
}

export interface NurevaConfig {
  devices: NurevaDeviceConfig[];
  clientId: string;
  clientVersion: string;
  rateLimit: number;
}

export interface NexudusConfig {
  url: string;
  spaceUrl: string;
  rateLimit: number;
  minIntervalMs: number;
  /** nexudusUserExists calls a minute, all clients together: a share of rateLimit, so logins keep the rest. */
  existsRateLimit: number;
  /** nexudusUserExists calls a minute from one client address. */
  existsPerClient: number;
}

export interface PlatformConfig {
  baseUrl: string;
  username: string;
  password: string;
  rateLimit: number;
}

export interface Config {
  production: boolean;
  port: number;
  host: string;
  sessionSecret: string;
  sessionTtlMs: number;
  redisUrl?: string;
  /** How many replicas share the vendor budgets: each keeps to budget / replicas while Redis is away. */
  replicas: number;
  corsOrigins: string[];
  introspection: boolean;
  logLevel: string;
  upstreamTimeoutMs: number;
  demo: boolean;
  /** Latency the demo's simulators add to every answer (DEMO_LATENCY_MS), to feel real vendors. */
  demoLatencyMs: number;
  trustProxy: number;
  tokenCacheMax: number;
  /** Execute validated documents directly (src/fast-path.ts); off sends every request through Apollo's pipeline. */
  fastPath: boolean;
  login: { maxFailures: number; windowMs: number; maxFailuresPerClient: number };
  limits: Limits;
  sessions: SessionLimits;
  nuveq?: NuveqConfig;
  nureva?: NurevaConfig;
  nexudus?: NexudusConfig;
  platform?: PlatformConfig;
}

/** What one request may make the gateway hold, call or wait for (README, "Limits and abuse"). */
export interface Limits {
  depth: number;
  aliases: number;
  tokens: number;
  /** Items in one list argument, literal or in variables. */
  listItems: number;
  /** Vendor calls one GraphQL request may cause. */
  vendorCallsPerRequest: number;
  /** A request's vendor calls start by this long after it arrived, or not at all. */
  requestTimeoutMs: number;
  /** Vendor calls waiting for a connection, per vendor; one more answers RATE_LIMITED at once. */
  vendorQueue: number;
  /** Bytes of parsed documents kept, per document cache (the fast path's, Apollo's). */
  documentCacheBytes: number;
  /** Bytes of automatic persisted queries kept in this process. */
  apqCacheBytes: number;
  /** Largest document registered as a persisted query (larger ones run, unregistered). */
  apqDocumentBytes: number;
}

export interface SessionLimits {
  /** Live sessions one process keeps (the in-process store). */
  max: number;
  /** Live sessions one client address holds; its next one ends its oldest. */
  maxPerClient: number;
  /** New sessions a client address may start a minute (successful logins without a session). */
  newPerClientPerMinute: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const VENDOR_PREFIXES = ['NUVEQ_', 'NUREVA_', 'NEXUDUS_', 'PLATFORM_'] as const;

type Env = Record<string, string | undefined>;

/** Present and not blank: an empty `FOO=` line in `.env` counts as unset. */
function given(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function vendorVariablesSet(env: Env, prefix: string): string[] {
  return Object.keys(env).filter((k) => k.startsWith(prefix) && given(env, k) !== undefined);
}

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

function httpUrl(message: string) {
  return z.string().refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, message);
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i;

const deviceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/, 'id must match [a-z0-9-]+'),
    name: z.string().min(1, 'name is required'),
    url: z.string(),
    fingerprint256: z.string().regex(FINGERPRINT, 'fingerprint256 must be 32 colon-separated hex bytes (as Node prints it)').optional(),
    ca: z.string().min(1).optional(),
    insecureTls: z.boolean().optional(),
  })
  .strict();

const ENV_SCHEMA = {
  port: z.coerce.number().int().min(0).max(65535),
  int: z.coerce.number().int(),
};

/** Reads and validates the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env, options: { cwd?: string; demoVendors?: boolean } = {}): Config {
  const problems: string[] = [];
  const cwd = options.cwd ?? process.cwd();

  const int = (name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = given(env, name);
    if (raw === undefined) return fallback;
    const r = ENV_SCHEMA.int.safeParse(raw);
    if (!r.success || r.data < min || r.data > max) {
      problems.push(`${name}: must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return r.data;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = given(env, name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name}: must be true or false`);
    return fallback;
  };
  const duration = (name: string, fallback: number): number => {
    const raw = given(env, name);
    if (raw === undefined) return fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms <= 0) {
      problems.push(`${name}: must be a duration such as 30s, 15m, 8h or 1d`);
      return fallback;
    }
    return ms;
  };
  const url = (name: string, fallback?: string): string | undefined => {
    const raw = given(env, name) ?? fallback;
    if (raw === undefined) return undefined;
    if (!httpUrl('').safeParse(raw).success) {
      problems.push(`${name}: must be an http(s) URL without credentials`);
      return undefined;
    }
    return raw.replace(/\/+$/, '');
  };
  const required = (name: string, why = 'is required'): string | undefined => {
    const v = given(env, name);
    if (v === undefined) problems.push(`${name}: ${why}`);
    return v;
  };

  const production = env.NODE_ENV === 'production';

  const portRaw = given(env, 'PORT');
  let port = 4000;
  if (portRaw !== undefined) {
    const r = ENV_SCHEMA.port.safeParse(portRaw);
    if (r.success) port = r.data;
    else problems.push('PORT: must be a port number from 0 to 65535');
  }
  const host = given(env, 'HOST') ?? '127.0.0.1';

  const demoRaw = given(env, 'DEMO');
  if (demoRaw !== undefined && demoRaw !== 'true' && demoRaw !== 'false') problems.push('DEMO: must be true or false');
  const anyVendor = VENDOR_PREFIXES.some((p) => vendorVariablesSet(env, p).length > 0);
  const demo = demoRaw === 'true' || (demoRaw !== 'false' && !anyVendor);

  let sessionSecret = given(env, 'SESSION_SECRET');
  if (sessionSecret === undefined) {
    if (!demo) problems.push('SESSION_SECRET: is required (at least 32 characters) outside demo mode');
  } else if (sessionSecret.length < 32) {
    problems.push('SESSION_SECRET: must be at least 32 characters');
    sessionSecret = undefined;
  }

  const logLevel = given(env, 'LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
  }

  const corsOrigins = (given(env, 'CORS_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === origin.replace(/\/$/, '');
    } catch {
      ok = false;
    }
    if (!ok) {
      problems.push('CORS_ORIGINS: each entry must be an origin such as https://app.example.com');
      break;
    }
  }

  const redisUrl = given(env, 'REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: must be a redis:// or rediss:// URL');

  const config: Config = {
    production,
    port,
    host,
    sessionSecret: sessionSecret ?? '',
    sessionTtlMs: duration('SESSION_TTL', 8 * 3_600_000),
    redisUrl,
    replicas: int('REPLICAS', 1, 1, 1000),
    corsOrigins,
    introspection: bool('GRAPHQL_INTROSPECTION', !production),
    logLevel,
    upstreamTimeoutMs: int('UPSTREAM_TIMEOUT_MS', 10_000, 1, 600_000),
    demo,
    demoLatencyMs: int('DEMO_LATENCY_MS', 0, 0, 60_000),
    trustProxy: int('TRUST_PROXY', 0, 0, 10),
    tokenCacheMax: int('TOKEN_CACHE_MAX', 10_000, 1),
    fastPath: bool('GRAPHQL_FAST_PATH', true),
    login: {
      maxFailures: int('LOGIN_MAX_FAILURES', 5, 1, 1000),
      windowMs: duration('LOGIN_FAILURE_WINDOW', 15 * 60_000),
      maxFailuresPerClient: int('LOGIN_MAX_FAILURES_PER_CLIENT', 30, 1, 100_000),
    },
    limits: {
      depth: int('GRAPHQL_MAX_DEPTH', 10, 1, 100),
      aliases: int('GRAPHQL_MAX_ALIASES', 15, 1, 1000),
      tokens: int('GRAPHQL_MAX_TOKENS', 2000, 10, 100_000),
      listItems: int('GRAPHQL_MAX_LIST_ITEMS', 500, 1, 100_000),
      vendorCallsPerRequest: int('MAX_VENDOR_CALLS_PER_REQUEST', 1000, 1, 1_000_000),
      requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 30_000, 1, 600_000),
      vendorQueue: int('VENDOR_QUEUE_MAX', 1000, 1, 1_000_000),
      documentCacheBytes: int('GRAPHQL_DOCUMENT_CACHE_BYTES', 16 * 1024 * 1024, 0, 1024 ** 3),
      apqCacheBytes: int('APQ_CACHE_BYTES', 8 * 1024 * 1024, 0, 1024 ** 3),
      apqDocumentBytes: int('APQ_MAX_DOCUMENT_BYTES', 32 * 1024, 0, 1024 * 1024),
    },
    sessions: {
      max: int('SESSIONS_MAX', 100_000, 1, 100_000_000),
      maxPerClient: int('SESSIONS_MAX_PER_CLIENT', 1000, 1, 100_000_000),
      newPerClientPerMinute: int('SESSIONS_NEW_PER_CLIENT', 60, 1, 1000),
    },
  };

  // In demo mode the vendors are the in-process simulators: DEMO=true ignores whatever vendor
  // variables are set, until the demo passes its own (`demoVendors`).
  const readVendors = demoRaw !== 'true' || options.demoVendors === true;
  if (readVendors && vendorVariablesSet(env, 'NUVEQ_').length > 0) {
    const tokenKey = required('NUVEQ_TOKEN_KEY');
    const apiIdRaw = required('NUVEQ_API_ID');
    const nuveqPort = required('NUVEQ_PORT', 'is required (the User Detail port value from the Nuveq portal)');
    let apiId: number | undefined;
    if (apiIdRaw !== undefined) {
      if (/^\d{1,15}$/.test(apiIdRaw)) apiId = Number(apiIdRaw);
      else problems.push('NUVEQ_API_ID: must be a number (the owner account id)');
    }
    const timeZone = given(env, 'NUVEQ_TIMEZONE') ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
    } catch {
      problems.push('NUVEQ_TIMEZONE: must be an IANA time zone such as UTC or Europe/Berlin');
    }
    const nuveqUrl = url('NUVEQ_URL', 'https://api.nuveq.cloud/api/');
    if (tokenKey && apiId !== undefined && nuveqPort && nuveqUrl) {
      config.nuveq = {
        url: nuveqUrl,
        port: nuveqPort,
        apiId,
        tokenKey,
        allowAnonymous: bool('NUVEQ_ALLOW_ANONYMOUS', false),
        concurrency: int('NUVEQ_CONCURRENCY', 8, 1, 256),
        timeZone,
      };
    } else {
      bool('NUVEQ_ALLOW_ANONYMOUS', false);
      int('NUVEQ_CONCURRENCY', 8, 1, 256);
    }
  }

  if (readVendors && vendorVariablesSet(env, 'NUREVA_').length > 0) {
    const devices = readDevices(env, cwd, problems);
    const clientId = given(env, 'NUREVA_CLIENT_ID') ?? packageInfo().name;
    const clientVersion = given(env, 'NUREVA_CLIENT_VERSION') ?? packageInfo().version;
    if (clientId.length > 500) problems.push('NUREVA_CLIENT_ID: at most 500 characters');
    if (clientVersion.length > 500) problems.push('NUREVA_CLIENT_VERSION: at most 500 characters');
    const rateLimit = int('NUREVA_RATE_LIMIT', 600, 1);
    if (devices) config.nureva = { devices, clientId, clientVersion, rateLimit };
  }

  if (readVendors && vendorVariablesSet(env, 'NEXUDUS_').length > 0) {
    const spaceRaw = required('NEXUDUS_SPACE_URL', 'is required (the members portal, e.g. https://xyz.spaces.nexudus.com)');
    const spaceUrl = spaceRaw !== undefined ? url('NEXUDUS_SPACE_URL') : undefined;
    const apiUrl = url('NEXUDUS_URL', 'https://spaces.nexudus.com');
    const rateLimit = int('NEXUDUS_RATE_LIMIT', 120, 1);
    const minIntervalMs = int('NEXUDUS_MIN_INTERVAL_MS', 100, 0, 60_000);
    const existsRateLimit = int('NEXUDUS_EXISTS_RATE_LIMIT', Math.max(1, Math.floor(rateLimit / 4)), 1);
    const existsPerClient = int('NEXUDUS_EXISTS_PER_CLIENT', 10, 1);
    if (existsRateLimit >= rateLimit && rateLimit > 1) problems.push('NEXUDUS_EXISTS_RATE_LIMIT: must be below NEXUDUS_RATE_LIMIT, so logins keep a share of the budget');
    if (spaceUrl && apiUrl) config.nexudus = { url: apiUrl, spaceUrl, rateLimit, minIntervalMs, existsRateLimit, existsPerClient };
  }

  if (readVendors && vendorVariablesSet(env, 'PLATFORM_').length > 0) {
    const username = required('PLATFORM_SERVICE_USERNAME');
    const password = required('PLATFORM_SERVICE_PASSWORD');
    const id = given(env, 'PLATFORM_ID');
    const platformEnv = given(env, 'PLATFORM_ENV') ?? 'staging';
    if (platformEnv !== 'staging' && platformEnv !== 'production') problems.push('PLATFORM_ENV: must be staging or production');
    let baseUrl: string | undefined;
    if (given(env, 'PLATFORM_URL') !== undefined) {
      baseUrl = url('PLATFORM_URL');
    } else if (id !== undefined) {
      if (!/^[A-Za-z0-9_-]+$/.test(id)) problems.push('PLATFORM_ID: must contain only letters, digits, _ and -');
      else baseUrl = platformEnv === 'production' ? `https://api.${id}.platform.io` : `https://api.staging.${id}.platform.io`;
    } else {
      problems.push('PLATFORM_ID: is required (or PLATFORM_URL)');
    }
    const rateLimit = int('PLATFORM_RATE_LIMIT', 300, 1);
    if (username && password && baseUrl) config.platform = { baseUrl, username, password, rateLimit };
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readDevices(env: Env, cwd: string, problems: string[]): NurevaDeviceConfig[] | undefined {
  const raw = given(env, 'NUREVA_DEVICES');
  if (raw === undefined) {
    problems.push('NUREVA_DEVICES: is required (a JSON array, or @path/to/devices.json)');
    return undefined;
  }
  let text = raw;
  let baseDir = cwd;
  if (raw.startsWith('@')) {
    const file = resolve(cwd, raw.slice(1));
    if (!existsSync(file)) {
      problems.push('NUREVA_DEVICES: the file it names does not exist');
      return undefined;
    }
    text = readFileSync(file, 'utf8');
    baseDir = resolve(file, '..');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push('NUREVA_DEVICES: is not valid JSON');
    return undefined;
  }
  if (!Array.isArray(parsed)) {
    problems.push('NUREVA_DEVICES: must be a JSON array of devices');
    return undefined;
  }
  const devices: NurevaDeviceConfig[] = [];
  const seen = new Set<string>();
  const before = problems.length;
  parsed.forEach((entry, i) => {
    const where = `NUREVA_DEVICES[${i}]`;
    const r = deviceSchema.safeParse(entry);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const field = issue.path.join('.');
        const msg = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message.replace(/received .*$/, '').trim();
        problems.push(`${where}${field ? `.${field}` : ''}: ${msg}`);
      }
      return;
    }
    const d = r.data;
    if (seen.has(d.id)) problems.push(`${where}.id: duplicate device id`);
    seen.add(d.id);
    let u: URL;
    try {
      u = new URL(d.url);
    } catch {
      problems.push(`${where}.url: must be an https:// URL`);
      return;
    }
    if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search) {
      problems.push(`${where}.url: must be the device origin only, e.g. https://10.0.0.1`);
    }
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) problems.push(`${where}.url: plain http:// is allowed only for loopback`);
    else if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${where}.url: must be an https:// URL`);
    let ca: string | undefined;
    if (d.ca !== undefined) {
      const file = resolve(baseDir, d.ca);
      if (!existsSync(file)) problems.push(`${where}.ca: the file it names does not exist`);
      // An empty or non-PEM file must not read as "no CA", which would leave nothing to verify against.
      else if (!/-----BEGIN CERTIFICATE-----/.test((ca = readFileSync(file, 'utf8')))) problems.push(`${where}.ca: the file holds no PEM certificate`);
    }
    if (u.protocol === 'https:' && !d.fingerprint256 && d.ca === undefined && d.insecureTls !== true) {
      problems.push(`${where}: an https device needs fingerprint256, ca, or an explicit "insecureTls": true`);
    }
    devices.push({
      id: d.id,
      name: d.name,
      url: u.origin,
      fingerprint256: d.fingerprint256?.toUpperCase(),
      ca,
      insecureTls: d.insecureTls === true,
    });
  });
  return problems.length === before ? devices : undefined;
}

let root: string | undefined;
/** The folder holding package.json and schema/, found upwards from this file (from src/ or dist/src/). */
export function packageRoot(): string {
  if (!root) {
    let dir = new URL('.', import.meta.url).pathname;
    while (!existsSync(resolve(dir, 'package.json')) && resolve(dir, '..') !== dir) dir = resolve(dir, '..');
    root = dir;
  }
  return root;
}

let pkg: { name: string; version: string } | undefined;
/** The package's own name and version (Nureva client headers, the explorer page). */
export function packageInfo(): { name: string; version: string } {
  if (!pkg) {
    const parsed = JSON.parse(readFileSync(resolve(packageRoot(), 'package.json'), 'utf8')) as { name: string; version: string };
    pkg = { name: parsed.name, version: parsed.version };
  }
  return pkg;
}
