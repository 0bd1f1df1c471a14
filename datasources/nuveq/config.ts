import type { EnvReader } from '../../src/config/env.js';

export interface NuveqConfig {
  url: string;
  port: string;
  apiId: number;
  tokenKey: string;
  allowAnonymous: boolean;
  concurrency: number;
  timeZone: string;
  /** Micro-cache of User Detail answers: 0 = off. */
  cacheTtlMs: number;
  cacheMax: number;
}

/** NUVEQ_*: the API key, owner account and User Detail port are required; the rest have defaults. */
export function readNuveqConfig(env: EnvReader): NuveqConfig | undefined {
  const tokenKey = env.required('NUVEQ_TOKEN_KEY');
  const apiIdRaw = env.required('NUVEQ_API_ID');
  const port = env.required('NUVEQ_PORT', 'is required (the User Detail port value from the Nuveq portal)');
  let apiId: number | undefined;
  if (apiIdRaw !== undefined) {
    if (/^\d{1,15}$/.test(apiIdRaw)) apiId = Number(apiIdRaw);
    else env.problem('NUVEQ_API_ID', 'must be a number (the owner account id)');
  }
  const timeZone = env.string('NUVEQ_TIMEZONE', 'UTC');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    env.problem('NUVEQ_TIMEZONE', 'must be an IANA time zone such as UTC or Europe/Berlin');
  }
  const url = env.url('NUVEQ_URL', 'https://api.nuveq.cloud/api/');
  const allowAnonymous = env.bool('NUVEQ_ALLOW_ANONYMOUS', false);
  const concurrency = env.int('NUVEQ_CONCURRENCY', 8, 1, 256);
  const cacheTtlMs = env.int('NUVEQ_CACHE_TTL_MS', 0, 0, 3_600_000);
  const cacheMax = env.int('NUVEQ_CACHE_MAX', 10_000, 1, 1_000_000);
  if (!tokenKey || apiId === undefined || !port || !url) return undefined;
  return { url, port, apiId, tokenKey, allowAnonymous, concurrency, timeZone, cacheTtlMs, cacheMax };
}
