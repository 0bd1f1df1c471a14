import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ErrorCode, RateLimitedError, SwitchboardError, type VendorName } from './errors.js';
import type { Metrics } from './metrics.js';

/**
 * Where failed-login times are kept (in-process, or Redis so every replica sees them). Keys are
 * HMACs of the identity, never the identity itself.
 */
export interface FailureStore {
  /** Failure times within the window, oldest first. */
  recent(key: string, now: number, windowMs: number): Promise<number[]>;
  add(key: string, now: number, windowMs: number): Promise<void>;
  clear(key: string): Promise<void>;
}

export class MemoryFailureStore implements FailureStore {
  private readonly failures = new LRUCache<string, number[]>({ max: 100_000 });

  async recent(key: string, now: number, windowMs: number): Promise<number[]> {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  async add(key: string, now: number, windowMs: number): Promise<void> {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - windowMs);
    list.push(now);
    this.failures.set(key, list.slice(-1000));
  }

  async clear(key: string): Promise<void> {
    this.failures.delete(key);
  }
}

export interface LoginThrottleOptions {
  maxFailures: number;
  maxFailuresPerClient: number;
  windowMs: number;
  hmacKey: Buffer;
  store?: FailureStore;
  metrics?: Metrics;
  now?: () => number;
}

/**
 * Slows password guessing: after `maxFailures` failed logins for one identity (or
 * `maxFailuresPerClient` from one client address) within the window, further attempts answer
 * RATE_LIMITED without reaching the vendor. Attempts still in flight count as failures until
 * they succeed, so aliases or parallel requests cannot slip a burst past the limit.
 */
export class LoginThrottle {
  private readonly store: FailureStore;
  private readonly now: () => number;
  private readonly pending = new Map<string, number>();

  constructor(private readonly options: LoginThrottleOptions) {
    this.store = options.store ?? new MemoryFailureStore();
    this.now = options.now ?? (() => Date.now());
  }

  private hash(scope: string, value: string): string {
    return `${scope}:${createHmac('sha256', this.options.hmacKey).update(value).digest('base64url')}`;
  }

  async attempt<T>(vendor: VendorName, identity: string, client: string, login: () => Promise<T>): Promise<T> {
    const keys = [
      { key: this.hash('id', `${vendor}\u0000${identity.trim().toLowerCase()}`), max: this.options.maxFailures, scope: 'identity' },
      { key: this.hash('ip', client), max: this.options.maxFailuresPerClient, scope: 'client' },
    ];
    const now = this.now();
    for (const k of keys) {
      const recent = await this.store.recent(k.key, now, this.options.windowMs);
      if (recent.length + (this.pending.get(k.key) ?? 0) >= k.max) {
        this.options.metrics?.loginThrottled.inc({ vendor, scope: k.scope });
        const oldest = recent[0] ?? now;
        throw new RateLimitedError((oldest + this.options.windowMs - now) / 1000, 'Too many failed logins; retry later', { vendor });
      }
    }
    for (const k of keys) this.pending.set(k.key, (this.pending.get(k.key) ?? 0) + 1);
    try {
      const result = await login();
      await this.store.clear(keys[0]!.key);
      return result;
    } catch (error) {
      if (error instanceof SwitchboardError && error.code === ErrorCode.UNAUTHENTICATED) {
        const t = this.now();
        await Promise.all(keys.map((k) => this.store.add(k.key, t, this.options.windowMs)));
      }
      throw error;
    } finally {
      for (const k of keys) {
        const n = (this.pending.get(k.key) ?? 1) - 1;
        if (n <= 0) this.pending.delete(k.key);
        else this.pending.set(k.key, n);
      }
    }
  }
}
