import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import { LRUCache } from 'lru-cache';
import type { VendorName } from '../errors.js';
import type { Metrics } from '../metrics.js';

/** What a vendor login yields. `expiresAt` (epoch ms) when the vendor states it. */
export interface TokenGrant<M = unknown> {
  token: string;
  expiresAt?: number;
  /** When the token was issued (JWT `iat`), to size the renewal margin; defaults to now. */
  issuedAt?: number;
  /** Non-secret facts learnt at login (e.g. the subject), shared by every user of the token. */
  meta?: M;
}

export interface CachedToken<M = unknown> {
  token: string;
  obtainedAt: number;
  expiresAt?: number;
  renewAt: number;
  meta?: M;
}

/**
 * Optional second level (Redis), shared by replicas. Values are opaque strings that the cache
 * seals before they leave the process.
 */
export interface TokenStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface TokenSealer {
  seal(plain: string): string;
  open(sealed: string): string | undefined;
}

/** Told where a token came from (a traced vendor call records it). */
export interface TokenSourceNote {
  tokenSource?: 'cache' | 'login' | 'refresh';
}

interface FetchContext {
  vendor: VendorName;
  login: () => Promise<TokenGrant>;
  defaultTtlMs: number;
  /** Set when this caller's fetch ran the login, so the others count as hits. */
  ran: boolean;
  /** Set when that login renewed a token that was due. */
  renewed?: boolean;
}

export interface TokenCacheOptions {
  max: number;
  /** Key for the HMAC that turns credentials into cache keys. */
  hmacKey: Buffer;
  metrics?: Metrics;
  now?: () => number;
  l2?: { store: TokenStore; sealer: TokenSealer };
}

/** Renew when less than min(60 s, a tenth of the lifetime) remains. */
export function renewalTime(obtainedAt: number, expiresAt: number, issuedAt?: number): number {
  const lifetime = Math.max(0, expiresAt - (issuedAt ?? obtainedAt));
  return expiresAt - Math.min(60_000, lifetime / 10);
}

/** Expiry facts of a JWT, read without verifying it (the vendor verifies its own tokens). */
export function jwtTimes(token: string): { expiresAt?: number; issuedAt?: number } {
  try {
    const claims = decodeJwt(token);
    return {
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
      issuedAt: typeof claims.iat === 'number' ? claims.iat * 1000 : typeof claims.nbf === 'number' ? claims.nbf * 1000 : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * Process-wide cache of vendor tokens. Keys are HMACs of every part of the credentials, so no
 * key (in memory, in Redis, in a metric) reveals them. Concurrent misses for one key share one
 * login: lru-cache's fetch() keeps one in-flight promise per key.
 */
export class TokenCache {
  private readonly lru: LRUCache<string, CachedToken, FetchContext>;
  private readonly now: () => number;

  constructor(private readonly options: TokenCacheOptions) {
    this.now = options.now ?? (() => Date.now());
    this.lru = new LRUCache<string, CachedToken, FetchContext>({
      max: options.max,
      ttlResolution: 0,
      // Date-based, so expiry follows the clock tests fake.
      perf: { now: () => this.now() },
      fetchMethod: (key, stale, { options: fetchOpts, context }) => this.load(key, stale, fetchOpts, context),
    });
  }

  /** A cache key: an HMAC over the vendor and every credential part, in order. */
  key(vendor: VendorName, ...parts: string[]): string {
    const h = createHmac('sha256', this.options.hmacKey);
    h.update(vendor);
    for (const p of parts) h.update(`\u0000${p.length}:${p}`);
    return `${vendor.toLowerCase()}:${h.digest('base64url')}`;
  }

  /** The cached token for `key`, logging in (once, however many callers) when missing or due. */
  async get<M>(vendor: VendorName, key: string, login: () => Promise<TokenGrant<M>>, defaultTtlMs = 3_600_000, note?: TokenSourceNote): Promise<CachedToken<M>> {
    const context: FetchContext = { vendor, login, defaultTtlMs, ran: false };
    const entry = await this.lru.fetch(key, { context });
    if (!context.ran) this.options.metrics?.tokenCache.inc({ vendor, event: 'hit' });
    if (note) note.tokenSource = !context.ran ? 'cache' : context.renewed ? 'refresh' : 'login';
    if (!entry) throw new Error('token login returned nothing');
    return entry as CachedToken<M>;
  }

  /**
   * Keeps a token obtained outside the cache (a login that must reach the vendor every time, such
   * as one with a one-time code) for the calls that follow it.
   */
  put<M>(vendor: VendorName, key: string, grant: TokenGrant<M>, defaultTtlMs = 3_600_000): CachedToken<M> {
    const entry = this.entryOf(grant, defaultTtlMs);
    this.lru.set(key, entry, { ttl: Math.max(1, entry.renewAt - entry.obtainedAt) });
    this.options.metrics?.tokenCache.inc({ vendor, event: 'miss' });
    this.share(key, entry);
    return entry as CachedToken<M>;
  }

  /** The entry if present and fresh; never logs in. */
  peek<M>(key: string): CachedToken<M> | undefined {
    return this.lru.get(key) as CachedToken<M> | undefined;
  }

  /**
   * A vendor refused `rejected`. Drop the entry only if it still holds that token: a concurrent
   * caller may already have replaced it, and that newer token must survive.
   */
  invalidate(vendor: VendorName, key: string, rejected: string): boolean {
    const current = this.lru.peek(key, { allowStale: true });
    if (current?.token !== rejected) return false;
    this.lru.delete(key);
    this.options.metrics?.tokenCache.inc({ vendor, event: 'invalidated' });
    if (this.options.l2) void this.options.l2.store.delete(key).catch(() => undefined);
    return true;
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  private async load(
    key: string,
    stale: CachedToken | undefined,
    fetchOpts: LRUCache.FetcherFetchOptions<string, CachedToken, FetchContext>,
    context: FetchContext,
  ): Promise<CachedToken> {
    context.ran = true;
    context.renewed = stale !== undefined;
    const { vendor } = context;
    const l2 = this.options.l2;
    if (l2 && !stale) {
      const shared = await this.fromL2(key);
      if (shared) {
        this.options.metrics?.tokenCache.inc({ vendor, event: 'hit_shared' });
        fetchOpts.ttl = Math.max(1, shared.renewAt - this.now());
        return shared;
      }
    }
    this.options.metrics?.tokenCache.inc({ vendor, event: stale ? 'refresh' : 'miss' });
    const entry = this.entryOf(await context.login(), context.defaultTtlMs);
    // A token already inside its renewal margin is used by the callers waiting for it, not kept.
    fetchOpts.ttl = Math.max(1, entry.renewAt - entry.obtainedAt);
    this.share(key, entry);
    return entry;
  }

  private entryOf(grant: TokenGrant, defaultTtlMs: number): CachedToken {
    const obtainedAt = this.now();
    return {
      token: grant.token,
      obtainedAt,
      expiresAt: grant.expiresAt,
      renewAt: grant.expiresAt !== undefined ? renewalTime(obtainedAt, grant.expiresAt, grant.issuedAt) : obtainedAt + defaultTtlMs,
      meta: grant.meta,
    };
  }

  /** Hands a fresh token to the other replicas (sealed), when it lives long enough to be worth it. */
  private share(key: string, entry: CachedToken): void {
    const l2 = this.options.l2;
    const ttl = entry.renewAt - entry.obtainedAt;
    if (l2 && ttl > 1000) void l2.store.set(key, l2.sealer.seal(JSON.stringify(entry)), ttl).catch(() => undefined);
  }

  private async fromL2(key: string): Promise<CachedToken | undefined> {
    const l2 = this.options.l2!;
    try {
      const sealed = await l2.store.get(key);
      if (!sealed) return undefined;
      const plain = l2.sealer.open(sealed);
      if (!plain) return undefined;
      const entry = JSON.parse(plain) as CachedToken;
      return entry.renewAt > this.now() ? entry : undefined;
    } catch {
      // The shared level is an optimisation: when it fails, log in as if it were empty.
      return undefined;
    }
  }
}

/**
 * Sends a request with a cached token and, if the vendor rejects that token, drops it and sends
 * once more with a fresh login. `send` receives a token provider so the token is taken at the
 * last moment (after any rate-limit wait), never one that expired while queued.
 */
export async function withTokenRetry<R>(
  cache: TokenCache,
  vendor: VendorName,
  key: string,
  login: () => Promise<TokenGrant>,
  send: (token: (note?: TokenSourceNote) => Promise<string>) => Promise<R>,
  isRejected: (result: R) => boolean,
  defaultTtlMs?: number,
): Promise<R> {
  let used: string | undefined;
  const provider = async (note?: TokenSourceNote) => {
    const entry = await cache.get(vendor, key, login, defaultTtlMs, note);
    used = entry.token;
    return entry.token;
  };
  const first = await send(provider);
  if (!isRejected(first) || used === undefined) return first;
  cache.invalidate(vendor, key, used);
  return send(provider);
}
