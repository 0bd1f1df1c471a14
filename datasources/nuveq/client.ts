import DataLoader from 'dataloader';
import type { NuveqConfig } from '../../src/config.js';
import type { Context, VendorDeps } from '../../src/context.js';
import { BadUserInputError, RateLimitedError, UnauthenticatedError, UpstreamError, UpstreamTimeoutError, errorFromStatus } from '../../src/errors.js';
import { UpstreamClient, type UpstreamResponse } from '../../src/http.js';
import { AdaptiveConcurrency, type ConcurrencyGate } from '../../src/rate-limit.js';
import type { CallScope } from '../../src/request-scope.js';
import { NUVEQ_USER_FIELDS, type NuveqUserData, type NuveqUserDetailRequest, type NuveqUserRecord } from './models.js';

const VENDOR = 'NUVEQ' as const;
const USER_ID = /^\d{1,15}$/;
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
export class NuveqClient {
  readonly http: UpstreamClient;
  readonly concurrency: AdaptiveConcurrency;
  /**
   * `{"port","api_id","user_id","token_key"}`: only user_id changes from call to call, so the rest
   * is serialized once (JSON.stringify of the whole object was a visible part of a fast call).
   */
  private readonly detailBody: (userId: number) => string;

  constructor(
    readonly config: NuveqConfig,
    private readonly deps: VendorDeps,
  ) {
    // NUVEQ_CONCURRENCY bounds one batch's fan-out; the replica as a whole keeps to the pool.
    const template: NuveqUserDetailRequest = { port: config.port, api_id: config.apiId, user_id: 0, token_key: config.tokenKey };
    const [head, tail] = JSON.stringify(template).split('"user_id":0');
    this.detailBody = (userId) => `${head}"user_id":${userId}${tail}`;
    this.concurrency = new AdaptiveConcurrency(config.concurrency, {
      processMax: CONNECTIONS,
      // Calls waiting for a connection are bounded: past that, callers hear "later" at once.
      maxQueue: deps.config.limits.vendorQueue,
      onFull: () => new RateLimitedError(1, 'Too many Nuveq calls are waiting; retry shortly', { vendor: VENDOR }),
      onTimeout: () => new UpstreamTimeoutError(VENDOR, 'The request ran out of time waiting for a Nuveq connection'),
    });
    this.http = new UpstreamClient({
      vendor: VENDOR,
      baseUrl: config.url,
      timeoutMs: deps.config.upstreamTimeoutMs,
      metrics: deps.metrics,
      logger: deps.logger,
      concurrency: this.concurrency,
      throttleStatuses: [429, 503],
      connections: Math.max(CONNECTIONS, config.concurrency),
    });
  }

  forRequest(ctx: Context): NuveqDataSource {
    return new NuveqDataSource(this, ctx);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** One User Detail call: the user, or null when Nuveq knows no such user. */
  async fetchUser(userId: string, gate?: ConcurrencyGate, scope?: CallScope): Promise<NuveqUserRecord | null> {
    // The endpoint is the base URL itself (`.../api/`).
    const res = await this.http.request({ operation: 'user.detail', method: 'POST', path: '/', jsonText: this.detailBody(Number(userId)), read: true, gate, scope });
    const parsed = this.parse(res);
    if (parsed === undefined) {
      if (res.status >= 500) throw errorFromStatus(VENDOR, { status: res.status, payload: res.text });
      throw new UpstreamError(VENDOR, `Nuveq answered something that is not JSON (HTTP ${res.status})`, { detail: res.text });
    }
    const data = parsed.data;
    if (res.status < 300 && isUserData(data)) return { userId, data, timeZone: this.config.timeZone };
    const message = typeof parsed.error === 'string' ? parsed.error : typeof parsed.message === 'string' ? parsed.message : typeof data === 'string' ? data : undefined;
    return this.classify(res.status, message, res.text);
  }

  /** The answer as an object; a bare JSON string (an error without an envelope) as its message. */
  private parse(res: UpstreamResponse): Record<string, unknown> | undefined {
    try {
      const v = JSON.parse(res.text) as unknown;
      if (typeof v === 'string') return { message: v };
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
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

/** Per-request face: one DataLoader, so every user is fetched once per request. */
export class NuveqDataSource {
  private readonly loader: DataLoader<string, NuveqUserRecord | null>;

  constructor(
    private readonly client: NuveqClient,
    private readonly ctx: Context,
  ) {
    this.loader = new DataLoader(async (ids) => {
      ctx.services.metrics.batch(VENDOR, 'user');
      // Each batch gets the (adaptive) limit of calls in flight; one id needs no gate.
      const gate = ids.length > 1 ? this.client.concurrency.batch() : undefined;
      const results = await Promise.all(ids.map((id) => this.client.fetchUser(id, gate, ctx.scope).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
      // A failed answer is never kept: asking again (in this request) asks Nuveq again.
      results.forEach((r, i) => r instanceof Error && this.loader.clear(ids[i]!));
      return results;
    });
  }

  private async authorize(): Promise<void> {
    if (this.client.config.allowAnonymous) return;
    if (!(await this.ctx.session())) {
      throw new UnauthenticatedError(this.ctx.request.token ? 'The session token is invalid, expired or revoked' : 'Nuveq users need a session: log in first', { vendor: VENDOR });
    }
  }

  private static normalize(userId: string): string {
    const id = userId.trim();
    if (!USER_ID.test(id)) throw new BadUserInputError(`userId: "${id.slice(0, 32)}" is not a Nuveq user id (digits only)`, 'userId', { vendor: VENDOR });
    return String(Number(id));
  }

  async user(userId: string): Promise<NuveqUserRecord | null> {
    const id = NuveqDataSource.normalize(userId);
    await this.authorize();
    return this.loader.load(id);
  }

  /**
   * In the order asked, null where unknown. One promise per id (DataLoader batches them into one
   * round), so a user that fails is an error at its own index, not for the whole list.
   */
  async users(userIds: readonly string[]): Promise<Array<Promise<NuveqUserRecord | null>>> {
    const ids = userIds.map(NuveqDataSource.normalize);
    await this.authorize();
    return ids.map((id) => this.loader.load(id));
  }
}
