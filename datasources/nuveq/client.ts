import type { VendorDeps } from '../../src/vendors/module.js';
import { upstreamDefaults } from '../../src/vendors/upstream-defaults.js';
import type { NuveqConfig } from './config.js';
import { RateLimitedError, SwitchboardError, UpstreamError, UpstreamTimeoutError, errorFromStatus } from '../../src/errors.js';
import { safeJson, VendorApi } from '../../src/upstream/vendor-api.js';
import { UpstreamClient, type UpstreamResponse } from '../../src/upstream/client.js';
import { AdaptiveConcurrency, type ConcurrencyGate } from '../../src/limits/rate-limiter.js';
import type { CallScope } from '../../src/limits/request-scope.js';
import { Coalescer } from '../../src/upstream/coalesce.js';
import { LRUCache } from 'lru-cache';
import { NUVEQ_USER_FIELDS, type NuveqUserData, type NuveqUserDetailRequest } from './models.js';
import { NuveqUserRecord } from './user.js';

export const VENDOR = 'NUVEQ';
/** Connections to Nuveq per replica, and so the most calls it has in flight while Nuveq is happy. */
const CONNECTIONS = 64;

/*
 * Nuveq does not document its error envelope. What the vendor facts assume, and what this client
 * accepts: `{"error": "<message>"}` with HTTP 200 or a 4xx. The message decides what it means,
 * an unknown user included ("User not found."): nothing documents an empty answer as "no such
 * user", so `{}`, `{"data": null}` or a `data` without any User Detail field is UPSTREAM_ERROR,
 * not a silent null.
 */
const UNKNOWN_USER = /user\s+(was\s+)?not\s+found|no\s+(such\s+)?user|user\b.*\bdoes\s*n.?t\s+exist|unknown\s+user|invalid\s+user\s+id/i;
const BAD_KEY = /api\s*key|token[_\s]?key|unauthori[sz]ed|invalid\s+key|key\s+is\s+invalid|access\s+denied|rejected/i;
const BAD_ACCOUNT = /api[_\s]?id|owner|account|site/i;
const BAD_PORT = /\bport\b/i;

/**
 * The Nuveq api-port API: one POST endpoint, the operation chosen by `port`, the API key in the
 * body. There is no batch endpoint, so a batch of users is parallel POSTs, at most NUVEQ_CONCURRENCY
 * at a time per batch and 64 for the whole replica; both halve while Nuveq throttles and grow back
 * after.
 */
export class NuveqClient extends VendorApi {
  protected readonly vendor = VENDOR;
  readonly http: UpstreamClient;
  readonly concurrency: AdaptiveConcurrency;
  /**
   * `{"port","api_id","user_id","token_key"}`: only user_id changes from call to call, so the rest
   * is serialized once (JSON.stringify of the whole object was a visible part of a fast call).
   */
  private readonly detailBody: (userId: number) => string;
  /** User Detail calls in flight, shared: every caller asks with the gateway's one key. */
  readonly reads = new Coalescer();
  /** NUVEQ_CACHE_TTL_MS > 0: answers kept that long (unknown users too), at most NUVEQ_CACHE_MAX of them. */
  private readonly cache?: LRUCache<string, { user: NuveqUserRecord | null }>;

  constructor(
    readonly config: NuveqConfig,
    private readonly deps: VendorDeps,
  ) {
    super();
    // NUVEQ_CONCURRENCY bounds one batch's fan-out; the replica as a whole keeps to the pool.
    const template: NuveqUserDetailRequest = { port: config.port, api_id: config.apiId, user_id: 0, token_key: config.tokenKey };
    const [head, tail] = JSON.stringify(template).split('"user_id":0');
    this.detailBody = (userId) => `${head}"user_id":${userId}${tail}`;
    this.concurrency = new AdaptiveConcurrency(config.concurrency, {
      processMax: CONNECTIONS,
      now: () => deps.clock.now(),
      // Calls waiting for a connection are bounded: past that, callers hear "later" at once.
      maxQueue: deps.gateway.vendorQueue,
      onFull: () => new RateLimitedError(1, 'Too many Nuveq calls are waiting; retry shortly', { vendor: VENDOR }),
      onTimeout: () => new UpstreamTimeoutError(VENDOR, 'The request ran out of time waiting for a Nuveq connection'),
    });
    this.http = new UpstreamClient({
      vendor: VENDOR,
      baseUrl: config.url,
      ...upstreamDefaults(deps),
      concurrency: this.concurrency,
      throttleStatuses: [429, 503],
      connections: Math.max(CONNECTIONS, config.concurrency),
    });
    if (config.cacheTtlMs > 0) {
      this.cache = new LRUCache({ max: config.cacheMax, ttl: config.cacheTtlMs, ttlAutopurge: false, perf: { now: () => deps.clock.now() } });
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /**
   * One User Detail call: the user, or null when Nuveq knows no such user. The answer depends only on
   * the id (the key is the gateway's), so callers asking for the same user at the same time share one
   * call, and with NUVEQ_CACHE_TTL_MS the answer is reused for that long.
   */
  fetchUser(userId: string, gate?: ConcurrencyGate, scope?: CallScope): Promise<NuveqUserRecord | null> {
    const kept = this.cache?.get(userId);
    if (kept) return Promise.resolve(kept.user);
    return this.reads.run(
      userId,
      scope,
      // The endpoint is the base URL itself (`.../api/`).
      (shared) => this.http.request({ operation: 'user.detail', method: 'POST', path: '/', jsonText: this.detailBody(Number(userId)), read: true, gate, scope: shared }),
      (res) => {
        const user = this.userOf(userId, res);
        this.cache?.set(userId, { user });
        return user;
      },
    );
  }

  /** What a User Detail answer means: the user, null for an unknown one, or the error it is. */
  userOf(userId: string, res: UpstreamResponse): NuveqUserRecord | null {
    const body = safeJson<unknown>(res);
    // A bare JSON string is an error without an envelope: its message.
    const parsed = typeof body === 'string' ? { message: body } : body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (parsed === undefined) {
      if (res.status >= 500) throw this.errorFromResponse(res);
      throw new UpstreamError(VENDOR, `Nuveq answered something that is not JSON (HTTP ${res.status})`, { detail: res.text });
    }
    const data = parsed.data;
    if (res.status < 300 && isUserData(data)) return new NuveqUserRecord(userId, data, this.config.timeZone);
    const message = typeof parsed.error === 'string' ? parsed.error : typeof parsed.message === 'string' ? parsed.message : typeof data === 'string' ? data : undefined;
    return this.classify(res.status, message, res.text);
  }

  /** A status without a usable body (Nuveq documents none of its errors' statuses). */
  errorFromResponse(res: UpstreamResponse): SwitchboardError {
    return errorFromStatus(VENDOR, { status: res.status, payload: res.text });
  }

  /** The one place Nuveq's error strings become answers or gateway errors. */
  private classify(status: number, message: string | undefined, payload: string): null {
    const text = message ?? '';
    if (UNKNOWN_USER.test(text) && !BAD_KEY.test(text)) return null;
    const operator = (variable: string, what: string): never => {
      this.deps.logger.error({ vendor: VENDOR, status, variable }, `Nuveq rejected the gateway's ${what}: check ${variable}`);
      throw new UpstreamError(VENDOR, 'Nuveq rejected the gateway configuration; the operator has been notified');
    };
    if (status === 401 || status === 403 || BAD_KEY.test(text)) operator('NUVEQ_TOKEN_KEY', 'API key');
    if (BAD_PORT.test(text)) operator('NUVEQ_PORT', 'port');
    if (BAD_ACCOUNT.test(text)) operator('NUVEQ_API_ID', 'account id');
    // A 404 that is not about a user is the endpoint itself missing.
    if (status === 404) operator('NUVEQ_URL', 'endpoint URL');
    if (status >= 500) throw errorFromStatus(VENDOR, { status, message, payload });
    throw new UpstreamError(VENDOR, `Nuveq answered HTTP ${status} with neither a user nor an error it documents`, { detail: payload });
  }
}

function isUserData(data: unknown): data is NuveqUserData {
  return typeof data === 'object' && data !== null && !Array.isArray(data) && NUVEQ_USER_FIELDS.some((f) => Object.hasOwn(data, f));
}

