import type { ChainableCommander } from 'ioredis';
import { Durability } from './durability.js';
import { StoreUnavailableError, type SessionRecord, type SessionStore, type StoredLogin } from '../../auth/sessions.js';
import type { Breaker } from './breaker.js';
import type { Client } from './client.js';
import { ping } from './ping.js';

/**
 * Sessions as hashes (`s:<id>`, one field per vendor login), each owner's in a sorted set. Every
 * write that makes, changes or ends a session waits for REDIS_WAIT_REPLICAS replicas to hold it
 * (Durability): on a replicated deployment a failover then loses no session and no logout.
 */
export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Client,
    private readonly breaker: Breaker,
    /** Live sessions one owner keeps (SESSIONS_MAX_PER_CLIENT); its next one ends its oldest. */
    private readonly maxPerOwner = 1000,
    private readonly durability = new Durability(0, 100),
  ) {}

  /** One key's write, then WAIT when asked for; the write's answer. */
  private durable(write: (p: ChainableCommander) => unknown): Promise<unknown> {
    return this.run(async () => {
      const pipeline = this.redis.pipeline();
      write(pipeline);
      return (await this.durability.exec(pipeline))[0];
    });
  }

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
    await this.durable((p) => (p as unknown as Client).sbCreateSession(key, record.expiresAt, ...fields));
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
    // One key at a time: on a Cluster the sessions live on different nodes.
    await Promise.all(ids.map((id) => this.durable((p) => p.del(`s:${id}`))));
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
    return Number(await this.durable((p) => (p as unknown as Client).sbPutLogin(`s:${id}`, `login:${login.slot}`, JSON.stringify(login)))) === 1;
  }

  async removeLogin(id: string, slot: string): Promise<void> {
    await this.durable((p) => p.hdel(`s:${id}`, `login:${slot}`));
  }

  async delete(id: string): Promise<void> {
    await this.durable((p) => p.del(`s:${id}`));
  }

  async ping(): Promise<boolean> {
    return ping(this.redis, this.breaker);
  }

  async close(): Promise<void> {
    // The connection is closed once, by RedisStores.close().
  }
}
