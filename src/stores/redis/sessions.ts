import { StoreUnavailableError, type SessionRecord, type SessionStore, type StoredLogin } from '../../auth/sessions.js';
import type { Breaker } from './breaker.js';
import type { Client } from './client.js';
import { ping } from './ping.js';

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
    /** Live sessions one owner keeps (SESSIONS_MAX_PER_CLIENT); its next one ends its oldest. */
    private readonly maxPerOwner = 1000,
  ) {}

  available(): boolean {
    return this.breaker.up;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(op);
    } catch {
      throw new StoreUnavailableError();
    }
  }

  async create(record: SessionRecord): Promise<void> {
    const key = `s:${record.id}`;
    const meta = { id: record.id, createdAt: record.createdAt, expiresAt: record.expiresAt, ...(record.owner ? { owner: record.owner } : {}) };
    const fields = [['meta', JSON.stringify(meta)], ...record.logins.map((l) => [`login:${l.slot}`, JSON.stringify(l)])].flat();
    await this.run(() => this.redis.multi().hset(key, ...fields).pexpireat(key, record.expiresAt).exec());
    if (record.owner) await this.run(() => this.keepOwnerWithin(record.owner!, record));
  }

  /**
   * Each owner's sessions in a sorted set by creation time: past the cap, its oldest end. (Not one
   * script: a session and its owner's set live under different keys, which a Cluster may place on
   * different nodes.)
   */
  private async keepOwnerWithin(owner: string, record: SessionRecord): Promise<void> {
    const key = `o:${owner}`;
    const [, [, count] = []] = (await this.redis
      .multi()
      .zadd(key, record.createdAt, record.id)
      .zcard(key)
      .pexpireat(key, record.expiresAt)
      .exec()) as Array<[Error | null, unknown]>;
    const excess = Number(count) - this.maxPerOwner;
    if (excess <= 0) return;
    const oldest = await this.redis.zpopmin(key, excess);
    const ids = oldest.filter((_, i) => i % 2 === 0);
    if (ids.length) await this.redis.del(...ids.map((id) => `s:${id}`));
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const hash = await this.run(() => this.redis.hgetall(`s:${id}`));
    if (!hash.meta) return undefined;
    const meta = JSON.parse(hash.meta) as Omit<SessionRecord, 'logins'>;
    const logins = Object.entries(hash)
      .filter(([field]) => field.startsWith('login:'))
      .map(([, value]) => JSON.parse(value) as StoredLogin);
    return { ...meta, logins };
  }

  async putLogin(id: string, login: StoredLogin): Promise<boolean> {
    return (await this.run(() => this.redis.sbPutLogin(`s:${id}`, `login:${login.slot}`, JSON.stringify(login)))) === 1;
  }

  async removeLogin(id: string, slot: string): Promise<void> {
    await this.run(() => this.redis.hdel(`s:${id}`, `login:${slot}`));
  }

  async delete(id: string): Promise<void> {
    await this.run(() => this.redis.del(`s:${id}`));
  }

  async ping(): Promise<boolean> {
    return ping(this.redis, this.breaker);
  }

  async close(): Promise<void> {
    // The connection is closed once, by RedisStores.close().
  }
}
