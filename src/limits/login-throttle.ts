import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ErrorCode, RateLimitedError, SwitchboardError, type VendorName } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { SlidingLog } from './sliding-log.js';

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
  /** At most 100,000 keys, each the last 1,000 events: what one caller can make it hold. */
  private readonly failures = new LRUCache<string, SlidingLog>({ max: 100_000 });

  async recent(key: string, now: number, windowMs: number): Promise<number[]> {
    const log = this.failures.get(key);
    log?.prune(now - windowMs);
    if (log && log.size === 0) this.failures.delete(key);
    return log?.list() ?? [];
  }

  async add(key: string, now: number, windowMs: number): Promise<void> {
    const log = this.failures.get(key) ?? new SlidingLog(1000);
    log.prune(now - windowMs);
    log.add(now);
    this.failures.set(key, log);
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

/** How long a client address stays known for an identity after a successful login from it. */
const KNOWN_MS = 24 * 3_600_000;

/**
 * Slows password guessing: after `maxFailures` failed logins for one identity (or
 * `maxFailuresPerClient` from one client address) within the window, further attempts answer
 * RATE_LIMITED without reaching the vendor. The per-client lock does not apply to an identity
 * that logged in successfully from that address within a day: many people behind one address (an
 * office, or a proxy the gateway was not told to trust) keep their own logins while someone among
 * them sprays passwords over other identities. Attempts still in flight count as failures until they
 * succeed, once per distinct credential: a burst of different passwords (parallel requests, or
 * aliases) cannot slip past the limit, while many identical logins (one user, many tabs) share one
 * place, as they share one vendor login.
 */
export class LoginThrottle {
  private readonly store: FailureStore;
  private readonly now: () => number;
  /** Per throttle key: in-flight attempts by credential fingerprint. */
  private readonly pending = new Map<string, Map<string, number>>();

  constructor(private readonly options: LoginThrottleOptions) {
    this.store = options.store ?? new MemoryFailureStore();
    this.now = options.now ?? (() => Date.now());
  }

  private hash(scope: string, value: string): string {
    return `${scope}:${createHmac('sha256', this.options.hmacKey).update(value).digest('base64url')}`;
  }

  /**
   * Runs `login` unless the identity or the client is locked out. `credential` (the password,
   * with any one-time code) is only hashed, to tell distinct attempts apart.
   */
  async attempt<T>(vendor: VendorName, identity: string, client: string, credential: string, login: () => Promise<T>): Promise<T> {
    const id = `${vendor}\u0000${identity.trim().toLowerCase()}`;
    const fingerprint = this.hash('cred', `${id}\u0000${credential}`);
    const known = this.hash('known', `${client}\u0000${id}`);
    const clientKey = { key: this.hash('ip', client), max: this.options.maxFailuresPerClient, scope: 'client' };
    const isKnown = (await this.store.recent(known, this.now(), KNOWN_MS)).length > 0;
    const keys = [{ key: this.hash('id', id), max: this.options.maxFailures, scope: 'identity' }, ...(isKnown ? [] : [clientKey])];
    // Registered before the first await, so a burst of callers sees itself; each caller is ranked
    // by arrival among the distinct credentials in flight.
    const ranks = keys.map((k) => {
      const inFlight = this.pending.get(k.key) ?? new Map<string, number>();
      const joined = inFlight.has(fingerprint);
      inFlight.set(fingerprint, (inFlight.get(fingerprint) ?? 0) + 1);
      this.pending.set(k.key, inFlight);
      return joined ? -1 : [...inFlight.keys()].indexOf(fingerprint);
    });
    const release = () => {
      for (const k of keys) {
        const inFlight = this.pending.get(k.key);
        const n = (inFlight?.get(fingerprint) ?? 1) - 1;
        if (n > 0) inFlight!.set(fingerprint, n);
        else inFlight?.delete(fingerprint);
        if (inFlight && inFlight.size === 0) this.pending.delete(k.key);
      }
    };
    const now = this.now();
    for (const [i, k] of keys.entries()) {
      if (ranks[i] === -1) continue; // the same attempt is already under way
      const recent = await this.store.recent(k.key, now, this.options.windowMs).catch((error: unknown) => {
        release();
        throw error;
      });
      if (recent.length + ranks[i]! >= k.max) {
        release();
        this.options.metrics?.loginThrottled.inc({ vendor, scope: k.scope });
        const oldest = recent[0] ?? now;
        throw new RateLimitedError((oldest + this.options.windowMs - now) / 1000, 'Too many failed logins; retry later', { vendor });
      }
    }
    try {
      const result = await login();
      await this.store.clear(keys[0]!.key);
      if (!isKnown) await this.store.add(known, this.now(), KNOWN_MS);
      return result;
    } catch (error) {
      if (error instanceof SwitchboardError && error.code === ErrorCode.UNAUTHENTICATED) {
        const t = this.now();
        await Promise.all(keys.map((k) => this.store.add(k.key, t, this.options.windowMs)));
      }
      throw error;
    } finally {
      release();
    }
  }
}
