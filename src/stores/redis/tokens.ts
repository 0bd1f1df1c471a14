import type { TokenStore } from '../../auth/token-cache.js';
import type { Breaker } from './breaker.js';
import type { Client } from './client.js';

export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
  ) {}
  async get(key: string): Promise<string | undefined> {
    return (await this.breaker.run(() => this.redis.get(`t:${key}`))) ?? undefined;
  }
  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.breaker.run(() => this.redis.set(`t:${key}`, value, 'PX', Math.max(1, Math.floor(ttlMs))));
  }
  async delete(key: string): Promise<void> {
    await this.breaker.run(() => this.redis.del(`t:${key}`));
  }
}
