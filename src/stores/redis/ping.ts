import type { Redis } from 'ioredis';
import type { Breaker } from './breaker.js';

export async function ping(redis: Redis, breaker: Breaker): Promise<boolean> {
  if (!breaker.up) return false;
  try {
    return (await breaker.run(() => redis.ping())) === 'PONG';
  } catch {
    return false;
  }
}
