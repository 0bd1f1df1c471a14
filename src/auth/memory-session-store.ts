import { LRUCache } from 'lru-cache';
import { RateLimitedError } from '../errors.js';
import { copy, type SessionRecord, type SessionStore, type StoredLogin } from './sessions.js';

/** The store holds as many sessions as it may, and none of them may give way (see MemorySessionStore). */
export class SessionStoreFullError extends RateLimitedError {
  constructor() {
    super(60, 'The gateway holds as many sessions as it may (SESSIONS_MAX); retry later');
  }
}

export interface MemorySessionStoreOptions {
  /** Live sessions kept in all (SESSIONS_MAX). */
  max?: number;
  /** Live sessions one owner keeps (SESSIONS_MAX_PER_CLIENT); its next one ends its oldest. */
  maxPerOwner?: number;
  now?: () => number;
}

/**
 * Sessions in this process. A flood of logins must not end anyone else's session: past
 * `maxPerOwner`, a client's new session ends that client's own oldest one, and when the store
 * holds `max` live sessions a new one is refused (RATE_LIMITED), never made room for by evicting
 * a session another client holds.
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions: LRUCache<string, SessionRecord>;
  /** Session ids per owner, oldest first; kept in step with the store by `dispose`. */
  private readonly owners = new Map<string, Set<string>>();
  private readonly max: number;
  private readonly maxPerOwner: number;
  private readonly now: () => number;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.max = options.max ?? 100_000;
    this.maxPerOwner = options.maxPerOwner ?? 1000;
    const now = (this.now = options.now ?? (() => Date.now()));
    this.sessions = new LRUCache({
      // Never reached: create() refuses first, so the cache never evicts a live session by age.
      max: this.max + 1,
      ttlAutopurge: false,
      ttlResolution: 0,
      perf: { now },
      dispose: (record, id) => this.forget(record.owner, id),
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  private forget(owner: string | undefined, id: string): void {
    if (owner === undefined) return;
    const ids = this.owners.get(owner);
    ids?.delete(id);
    if (ids?.size === 0) this.owners.delete(owner);
  }

  async create(record: SessionRecord): Promise<void> {
    const { owner } = record;
    if (owner !== undefined) {
      const ids = this.owners.get(owner);
      // The owner's oldest sessions make room for its newest.
      while (ids && ids.size >= this.maxPerOwner) this.sessions.delete(ids.values().next().value!);
    }
    if (this.sessions.size >= this.max) {
      this.sessions.purgeStale();
      if (this.sessions.size >= this.max) throw new SessionStoreFullError();
    }
    this.sessions.set(record.id, copy(record), { ttl: Math.max(1, record.expiresAt - this.now()) });
    if (owner !== undefined) {
      const ids = this.owners.get(owner) ?? new Set<string>();
      ids.add(record.id);
      this.owners.set(owner, ids);
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const r = this.sessions.get(id);
    return r ? copy(r) : undefined;
  }

  async putLogin(id: string, login: StoredLogin): Promise<boolean> {
    const r = this.sessions.get(id);
    if (!r) return false;
    r.logins = r.logins.filter((l) => l.slot !== login.slot).concat({ ...login });
    return true;
  }

  async removeLogin(id: string, slot: string): Promise<void> {
    const r = this.sessions.get(id);
    if (r) r.logins = r.logins.filter((l) => l.slot !== slot);
  }

  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.sessions.clear();
  }
}

