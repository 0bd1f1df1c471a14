import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EnvReader } from './env.js';
import type { RedisConfig, RedisEndpoint } from './types.js';

/**
 * Where shared state lives (contract section 7): one server (REDIS_URL), a Cluster
 * (REDIS_CLUSTER_NODES) or a Sentinel-watched primary (REDIS_SENTINELS + REDIS_SENTINEL_MASTER);
 * one form only. In every form: a password (in the URLs or REDIS_PASSWORD), TLS (`rediss://`, or
 * REDIS_TLS=true; REDIS_TLS_CA for a private CA), and how many replicas a session write waits for.
 */

const FORMS = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

interface Parsed {
  endpoint?: RedisEndpoint;
  tls: boolean;
  password?: string;
  username?: string;
}

/** `redis://[user:pass@]host[:port]` (or `rediss://`); with `bare`, also `host:port`. */
function parseNode(text: string, bare: boolean): Parsed | undefined {
  const withScheme = /^rediss?:\/\//.test(text) ? text : bare ? `redis://${text}` : undefined;
  if (!withScheme) return undefined;
  try {
    const u = new URL(withScheme);
    if (!u.hostname || (u.pathname !== '' && !/^\/\d*$/.test(u.pathname))) return undefined;
    const port = u.port === '' ? 6379 : Number(u.port);
    return {
      endpoint: { host: u.hostname.replace(/^\[|\]$/g, ''), port },
      tls: u.protocol === 'rediss:',
      password: u.password ? decodeURIComponent(u.password) : undefined,
      username: u.username ? decodeURIComponent(u.username) : undefined,
    };
  } catch {
    return undefined;
  }
}

function nodes(env: EnvReader, name: string, bare: boolean): Parsed[] {
  const out: Parsed[] = [];
  let wrong = false;
  for (const item of env.list(name)) {
    const node = parseNode(item, bare);
    if (node) out.push(node);
    else wrong = true;
  }
  if (wrong) env.problem(name, bare ? 'each entry must be host:port' : 'each entry must be a redis:// or rediss:// URL such as redis://10.0.0.1:6379');
  else if (out.length === 0) env.problem(name, 'names no node');
  return out;
}

export function readRedis(env: EnvReader): RedisConfig | undefined {
  const given = FORMS.filter((f) => env.given(f) !== undefined);
  if (given.length > 1) {
    env.problem(given.join(', '), 'set only one of these: one Redis server, a Cluster, or Sentinels');
    return undefined;
  }
  const master = env.given('REDIS_SENTINEL_MASTER');
  if (given[0] !== 'REDIS_SENTINELS' && master !== undefined) env.problem('REDIS_SENTINEL_MASTER', 'is only used with REDIS_SENTINELS');
  if (given.length === 0) return undefined;
  const form = given[0]!;

  let parsed: Parsed[];
  if (form === 'REDIS_URL') {
    const one = parseNode(env.given('REDIS_URL')!, false);
    if (!one) env.problem('REDIS_URL', 'must be a redis:// or rediss:// URL');
    parsed = one ? [one] : [];
  } else {
    parsed = nodes(env, form, form === 'REDIS_SENTINELS');
  }
  if (new Set(parsed.map((p) => p.tls)).size > 1) env.problem(form, 'mixes redis:// and rediss://');
  // A password in the URLs (the first that has one) or REDIS_PASSWORD; not two different ones.
  const inUrl = parsed.find((p) => p.password !== undefined);
  const separate = env.given('REDIS_PASSWORD');
  if (inUrl && separate !== undefined && inUrl.password !== separate) env.problem('REDIS_PASSWORD', `differs from the password in ${form}`);
  const tls = env.bool('REDIS_TLS', parsed.some((p) => p.tls));
  if (!tls && parsed.some((p) => p.tls)) env.problem('REDIS_TLS', `is false, but ${form} says rediss://`);
  const passwords = new Set(parsed.flatMap((p) => (p.password !== undefined ? [p.password] : [])));
  if (passwords.size > 1) env.problem(form, 'holds different passwords: give one (in the URLs or REDIS_PASSWORD)');
  if (form === 'REDIS_SENTINELS' && passwords.size > 0) env.problem(form, 'holds a password: the Sentinels\' is REDIS_SENTINEL_PASSWORD, the data nodes\' REDIS_PASSWORD');
  const caFile = env.given('REDIS_TLS_CA');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(resolve(env.cwd, caFile), 'utf8');
    } catch {
      env.problem('REDIS_TLS_CA', 'cannot be read (a PEM file of the CA that signed the Redis certificates)');
    }
  }
  const common = {
    password: inUrl?.password ?? separate,
    username: parsed.find((p) => p.username !== undefined)?.username ?? env.given('REDIS_USERNAME'),
    tls,
    ca,
    // A replicated deployment (Sentinel, Cluster) loses the writes a replica had not received when
    // its primary fails: session writes wait for one replica by default; one server has none.
    waitReplicas: env.int('REDIS_WAIT_REPLICAS', form === 'REDIS_URL' ? 0 : 1, 0, 16),
    // Below the 1 s every Redis command is given: a longer WAIT would time out as if Redis were down.
    waitTimeoutMs: env.int('REDIS_WAIT_TIMEOUT_MS', 100, 1, 500),
    // Longer than a failover takes (1-4 s measured): a failover books nothing outside Redis.
    budgetGraceMs: env.int('REDIS_BUDGET_GRACE_MS', 10_000, 0, 600_000),
  };
  const endpoints = parsed.flatMap((p) => (p.endpoint ? [p.endpoint] : []));
  if (form === 'REDIS_URL') return { mode: 'server', url: env.given('REDIS_URL')!, endpoint: endpoints[0] ?? { host: '127.0.0.1', port: 6379 }, ...common };
  if (form === 'REDIS_CLUSTER_NODES') return { mode: 'cluster', nodes: endpoints, ...common };
  if (master === undefined) env.problem('REDIS_SENTINEL_MASTER', 'is required with REDIS_SENTINELS (the name the Sentinels know the primary by)');
  return { mode: 'sentinel', sentinels: endpoints, master: master ?? '', sentinelPassword: env.given('REDIS_SENTINEL_PASSWORD'), ...common };
}
