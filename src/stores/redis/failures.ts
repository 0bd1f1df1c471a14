import { MemoryFailureStore, type FailureStore } from '../../limits/login-throttle.js';
import type { Breaker } from './breaker.js';
import type { Client } from './client.js';

export class RedisFailureStore implements FailureStore {
  private readonly local = new MemoryFailureStore();
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
  ) {}

  async recent(key: string, now: number, windowMs: number): Promise<number[]> {
    try {
      const scores = await this.breaker.run(() => this.redis.zrangebyscore(`f:${key}`, now - windowMs + 1, '+inf', 'WITHSCORES'));
      return scores.filter((_, i) => i % 2 === 1).map(Number);
    } catch {
      return this.local.recent(key, now, windowMs);
    }
  }

  async add(key: string, now: number, windowMs: number): Promise<void> {
    await this.local.add(key, now, windowMs);
    try {
      await this.breaker.run(() =>
        this.redis
          .multi()
          .zadd(`f:${key}`, now, `${now}:${Math.random().toString(36).slice(2)}`)
          .zremrangebyscore(`f:${key}`, '-inf', now - windowMs)
          .pexpire(`f:${key}`, windowMs)
          .exec(),
      );
    } catch {
      // Counted locally above; the shared count misses this one while Redis is away.
    }
  }

  async clear(key: string): Promise<void> {
    await this.local.clear(key);
    await this.breaker.run(() => this.redis.del(`f:${key}`)).catch(() => undefined);
  }
}
