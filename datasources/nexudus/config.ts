import type { EnvReader } from '../../src/config/env.js';

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

/** NEXUDUS_*: the members portal is required; the API host and the documented limits have defaults. */
export function readNexudusConfig(env: EnvReader): NexudusConfig | undefined {
  const spaceRaw = env.required('NEXUDUS_SPACE_URL', 'is required (the members portal, e.g. https://xyz.spaces.nexudus.com)');
  const spaceUrl = spaceRaw !== undefined ? env.url('NEXUDUS_SPACE_URL') : undefined;
  const url = env.url('NEXUDUS_URL', 'https://spaces.nexudus.com');
  const rateLimit = env.int('NEXUDUS_RATE_LIMIT', 120, 1);
  const minIntervalMs = env.int('NEXUDUS_MIN_INTERVAL_MS', 100, 0, 60_000);
  const existsRateLimit = env.int('NEXUDUS_EXISTS_RATE_LIMIT', Math.max(1, Math.floor(rateLimit / 4)), 1);
  const existsPerClient = env.int('NEXUDUS_EXISTS_PER_CLIENT', 10, 1);
  if (existsRateLimit >= rateLimit && rateLimit > 1) env.problem('NEXUDUS_EXISTS_RATE_LIMIT', 'must be below NEXUDUS_RATE_LIMIT, so logins keep a share of the budget');
  if (!spaceUrl || !url) return undefined;
  return { url, spaceUrl, rateLimit, minIntervalMs, existsRateLimit, existsPerClient };
}
