import type { EnvReader } from '../../src/config/env.js';

export interface PlatformConfig {
  baseUrl: string;
  username: string;
  password: string;
  rateLimit: number;
}

/** PLATFORM_*: the service user, and the base URL from PLATFORM_ID (+ PLATFORM_ENV) or PLATFORM_URL. */
export function readPlatformConfig(env: EnvReader): PlatformConfig | undefined {
  const username = env.required('PLATFORM_SERVICE_USERNAME');
  const password = env.required('PLATFORM_SERVICE_PASSWORD');
  const id = env.given('PLATFORM_ID');
  const stage = env.string('PLATFORM_ENV', 'staging');
  if (stage !== 'staging' && stage !== 'production') env.problem('PLATFORM_ENV', 'must be staging or production');
  let baseUrl: string | undefined;
  if (env.given('PLATFORM_URL') !== undefined) {
    baseUrl = env.url('PLATFORM_URL');
  } else if (id !== undefined) {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) env.problem('PLATFORM_ID', 'must contain only letters, digits, _ and -');
    else baseUrl = stage === 'production' ? `https://api.${id}.platform.io` : `https://api.staging.${id}.platform.io`;
  } else {
    env.problem('PLATFORM_ID', 'is required (or PLATFORM_URL)');
  }
  const rateLimit = env.int('PLATFORM_RATE_LIMIT', 300, 1);
  if (!username || !password || !baseUrl) return undefined;
  return { baseUrl, username, password, rateLimit };
}
