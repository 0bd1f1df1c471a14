import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import type { NexudusConfig } from '../../src/config.js';
import type { Context, VendorDeps } from '../../src/context.js';
import {
  BadUserInputError,
  ForbiddenError,
  NotFoundError,
  SwitchboardError,
  UnauthenticatedError,
  UpstreamError,
  errorFromStatus,
  vendorMessage,
} from '../../src/errors.js';
import { parseJson, UpstreamClient, type UpstreamCall, type UpstreamResponse } from '../../src/http.js';
import type { RateRule } from '../../src/rate-limit.js';
import type { CallScope } from '../../src/request-scope.js';
import { checkLength, INPUT_LIMITS, validateEmail, validatePassword } from '../../src/input.js';
import type { SessionRecord, StoredLogin } from '../../src/sessions.js';
import { jwtTimes, withTokenRetry, type TokenGrant } from '../../src/token-cache.js';
import type { ImpersonationRecord, NexudusEnvelope, NexudusTokenAnswer, NexudusUserRecord } from './models.js';

const VENDOR = 'NEXUDUS' as const;
export const NEXUDUS_SLOT = 'NEXUDUS';
/** Nexudus allows 60 writes (POSTs) a minute, and the token request is one: this budget comes on top of every call's per-identity pacing. */
export const WRITE_RATE: { key: string; rules: RateRule[] } = { key: 'nexudus:anonymous:writes', rules: [{ limit: 60, windowMs: 60_000 }] };

/** What a session keeps, sealed, to log in again when the bearer is rejected or evicted. */
interface SealedCredentials {
  email: string;
  password: string;
  totp?: string;
}

interface LoginMeta {
  userId: number;
  email: string | null;
}

/**
 * Nexudus: bearer tokens from `POST /api/token` (form-urlencoded), the members portal at
 * NEXUDUS_SPACE_URL, impersonation on the API host. Nexudus throttles with 409 + Retry-After,
 * not 429; calls are paced per identity under 1 per 100 ms and NEXUDUS_RATE_LIMIT per minute.
 */
export class NexudusClient {
  readonly api: UpstreamClient;
  readonly portal: UpstreamClient;
  private readonly rules: RateRule[];
  /**
   * Logins (by token key, an HMAC) whose fresh bearer Nexudus refused to impersonate with: their
   * next bare 401 is the missing role again, not a stale bearer, so it costs no password login
   * (logins share one budget of 60 writes a minute). Kept a few minutes, so a role granted later counts.
   */
  readonly lacksRole = new LRUCache<string, true>({ max: 10_000, ttl: 5 * 60_000 });

  constructor(
    readonly config: NexudusConfig,
    private readonly deps: VendorDeps,
  ) {
    const common = {
      vendor: VENDOR,
      timeoutMs: deps.config.upstreamTimeoutMs,
      metrics: deps.metrics,
      logger: deps.logger,
      limiter: deps.limiter,
      throttleStatuses: [409, 429],
    };
    this.api = new UpstreamClient({ ...common, baseUrl: config.url });
    this.portal = config.spaceUrl === config.url ? this.api : new UpstreamClient({ ...common, baseUrl: config.spaceUrl });
    this.rules = [
      ...(config.minIntervalMs > 0 ? [{ limit: 1, windowMs: config.minIntervalMs }] : []),
      { limit: config.rateLimit, windowMs: 60_000 },
      { limit: 5000, windowMs: 3_600_000 },
    ];
  }

  forRequest(ctx: Context): NexudusDataSource {
    return new NexudusDataSource(this, ctx);
  }

  async close(): Promise<void> {
    await this.api.close();
    if (this.portal !== this.api) await this.portal.close();
  }

  /** Pacing key: Nexudus counts per API user; anonymous calls share one budget. */
  rate(identity: string): UpstreamCall['rate'] {
    return { key: `nexudus:${identity}`, rules: this.rules };
  }

  tokenKey(creds: SealedCredentials): string {
    return this.deps.tokens.key(VENDOR, this.config.url, creds.email.toLowerCase(), creds.password, creds.totp ?? '');
  }

  /** Password grant, then `/en/user/me` for the subject; both cached with the token. */
  login(creds: SealedCredentials, key: string): () => Promise<TokenGrant<LoginMeta>> {
    return async () => {
      const deadline = Date.now() + this.api.timeoutMs;
      await this.deps.limiter.acquire(VENDOR, WRITE_RATE.key, WRITE_RATE.rules, deadline - Date.now());
      const res = await this.api.request({
        deadline,
        operation: 'token.password',
        method: 'POST',
        path: '/api/token',
        form: { grant_type: 'password', username: creds.email, password: creds.password, ...(creds.totp ? { totp: creds.totp } : {}) },
        // Nexudus counts calls without a bearer together, by caller.
        rate: this.rate('anonymous'),
      });
      if (res.status === 400 || res.status === 401) {
        const body = safeJson<{ error?: string; error_description?: string }>(res);
        if (body?.error === 'invalid_grant' || res.status === 401) throw new UnauthenticatedError('Wrong email, password or one-time code', { vendor: VENDOR });
        throw new UpstreamError(VENDOR, `Nexudus refused the token request (HTTP ${res.status})`, { detail: res.text });
      }
      if (res.status !== 200) throw errorFromStatus(VENDOR, { status: res.status, payload: res.text });
      const answer = parseJson<Partial<NexudusTokenAnswer>>(VENDOR, res);
      if (typeof answer.access_token !== 'string' || !answer.access_token) throw new UpstreamError(VENDOR, 'The Nexudus token answer has no access_token');
      const me = await this.me(answer.access_token, key);
      if (!me.ok) throw me.status === 401 ? new UpstreamError(VENDOR, 'Nexudus refused a token it had just issued') : this.mapError(me.res);
      const lifetime = Number(answer.expires_in);
      return {
        token: answer.access_token,
        expiresAt: Number.isFinite(lifetime) && lifetime > 0 ? Date.now() + lifetime * 1000 : undefined,
        meta: { userId: me.user.Id, email: me.user.Email ?? null },
      };
    };
  }

  /** `GET /en/user/me` with a bearer. */
  async me(token: string, identity: string, scope?: CallScope): Promise<{ ok: true; user: NexudusUserRecord } | { ok: false; status: number; res: UpstreamResponse }> {
    const res = await this.portal.request({
      scope,
      operation: 'user.me',
      method: 'GET',
      path: '/en/user/me',
      read: true,
      rate: this.rate(identity),
      auth: async () => ({ authorization: `Bearer ${token}` }),
    });
    if (res.status !== 200) return { ok: false, status: res.status, res };
    const user = parseJson<NexudusUserRecord>(VENDOR, res);
    if (!user || typeof user !== 'object' || typeof user.Id !== 'number') throw new UpstreamError(VENDOR, 'The Nexudus user record has no Id');
    return { ok: true, user };
  }

  credentials(login: StoredLogin): SealedCredentials {
    const creds = this.deps.sealer.openJson<SealedCredentials>(login.sealed);
    if (!creds) throw new UnauthenticatedError('The Nexudus login of this session is unusable; log in again', { vendor: VENDOR });
    return creds;
  }

  /** The one place Nexudus answers become gateway errors. */
  mapError(res: UpstreamResponse): SwitchboardError {
    const envelope = safeJson<NexudusEnvelope>(res);
    const said = { vendor: VENDOR, detail: res.text };
    const status = typeof envelope?.Status === 'number' && envelope.Status >= 400 ? envelope.Status : res.status;
    // A bare 401 is a rejected bearer; whether it also means a missing role only the caller can
    // tell (see impersonate). A 401 inside an envelope, or any 403, is Nexudus saying "may not".
    if (status === 403 || (status === 401 && envelope)) return new ForbiddenError(FORBIDDEN_MESSAGE, said);
    if (status === 401) return new UnauthenticatedError('The Nexudus login is no longer valid; log in again', said);
    if (status === 404) return new NotFoundError('Nexudus has no such user', said);
    if (status === 400 && envelope?.Errors?.[0]) {
      const e = envelope.Errors[0];
      return new BadUserInputError(vendorMessage(e.Message) ?? 'Nexudus rejected the input', e.PropertyName ?? undefined, said);
    }
    return errorFromStatus(VENDOR, { status: status >= 400 ? status : res.status, message: envelope?.Message ?? undefined, payload: res.text });
  }
}

const FORBIDDEN_MESSAGE = 'This Nexudus login may not do that (needs role ADMIN or User-Edit)';

function safeJson<T>(res: UpstreamResponse): T | undefined {
  if (!res.text.trim()) return undefined;
  try {
    return JSON.parse(res.text) as T;
  } catch {
    return undefined;
  }
}

/** Per-request face of the Nexudus client. */
export class NexudusDataSource {
  /** `/en/user/me` once per request per login, however many fields ask. */
  private readonly meLoader: DataLoader<string, NexudusUserRecord>;
  private readonly loginsByKey = new Map<string, StoredLogin>();

  constructor(
    private readonly client: NexudusClient,
    private readonly ctx: Context,
  ) {
    this.meLoader = new DataLoader((keys) => Promise.all(keys.map((k) => this.loadMe(k).catch((e: unknown) => e as Error))), { batch: false });
  }

  async login(email: string, password: string, totp?: string | null): Promise<StoredLogin> {
    const { client, ctx } = this;
    validateEmail(email, VENDOR);
    validatePassword(password, VENDOR);
    checkLength(totp, 'totp', INPUT_LIMITS.totp, VENDOR);
    if (!password) throw new BadUserInputError('password: must not be empty', 'password', { vendor: VENDOR });
    const creds: SealedCredentials = { email, password, ...(totp ? { totp } : {}) };
    const key = client.tokenKey(creds);
    const { tokens } = ctx.services;
    // A one-time code is one time: such a login always asks Nexudus (which refuses a code used
    // before), and its bearer is cached only for the calls of the session it starts.
    const login = client.login(creds, key);
    const entry = await ctx.services.loginThrottle.attempt(VENDOR, email, ctx.request.clientAddress, `${password}\u0000${totp ?? ''}`, async () =>
      totp ? tokens.put(VENDOR, key, await login(), 3_600_000) : tokens.get(VENDOR, key, login, 3_600_000),
    );
    const meta = entry.meta as LoginMeta | undefined;
    return {
      vendor: VENDOR,
      slot: NEXUDUS_SLOT,
      subject: meta?.email ?? email,
      expiresAt: entry.expiresAt,
      tokenKey: key,
      sealed: ctx.services.sealer.sealJson(creds),
      profile: { userId: meta?.userId },
    };
  }

  private sessionLogin(session: SessionRecord | undefined): StoredLogin {
    const login = session?.logins.find((l) => l.slot === NEXUDUS_SLOT);
    if (!login) throw new UnauthenticatedError('This session holds no Nexudus login: use loginNexudus first', { vendor: VENDOR });
    return login;
  }

  /**
   * A call with the session's bearer. A bare 401 means the bearer went stale: drop it and log in
   * again, once, with the credentials the session keeps; not when the bearer came from a login of
   * this very call, which `/en/user/me` had just accepted. `fresh` tells whether the bearer of the
   * answer is such a new one.
   */
  private async withBearer(
    login: StoredLogin,
    send: (token: () => Promise<string>) => Promise<UpstreamResponse>,
    options: { keepOn401?: boolean } = {},
  ): Promise<{ res: UpstreamResponse; fresh: boolean }> {
    const { client, ctx } = this;
    const creds = client.credentials(login);
    const key = login.tokenKey ?? client.tokenKey(creds);
    const relogin = client.login(creds, key);
    let fresh = false;
    let sends = 0;
    const res = await withTokenRetry(
      ctx.services.tokens,
      VENDOR,
      key,
      () => {
        fresh = true;
        return relogin();
      },
      (token) => {
        sends++;
        fresh = false;
        return send(token);
      },
      (r) => r.status === 401 && !r.text.trim() && !fresh && !options.keepOn401,
      3_600_000,
    );
    return { res, fresh: fresh || sends > 1 };
  }

  private async loadMe(key: string): Promise<NexudusUserRecord> {
    const login = this.loginsByKey.get(key);
    if (!login) throw new UnauthenticatedError('This session holds no Nexudus login: use loginNexudus first', { vendor: VENDOR });
    let record: NexudusUserRecord | undefined;
    const { res } = await this.withBearer(login, async (token) => {
      const r = await this.client.me(await token(), key, this.ctx.scope);
      if (r.ok) record = r.user;
      return r.ok ? { status: 200, headers: {}, text: '' } : r.res;
    });
    if (record) return record;
    throw this.client.mapError(res);
  }

  /** The member of this login, fetched once per request however many fields ask. */
  private meOf(login: StoredLogin): Promise<NexudusUserRecord> {
    const key = login.tokenKey ?? this.client.tokenKey(this.client.credentials(login));
    this.loginsByKey.set(key, login);
    return this.meLoader.load(key);
  }

  /** The session's Nexudus member, or UNAUTHENTICATED without a Nexudus login. */
  async me(): Promise<NexudusUserRecord> {
    return this.meOf(this.sessionLogin(await this.ctx.session()));
  }

  /** For Session.nexudusUser (including the session a login returns): null without a Nexudus login. */
  async meIfLoggedIn(session: SessionRecord): Promise<NexudusUserRecord | null> {
    const login = session.logins.find((l) => l.slot === NEXUDUS_SLOT);
    return login ? this.meOf(login) : null;
  }

  /**
   * `GET /en/user/exists?email=`: public, a bare true/false. Anyone may ask, and Nexudus counts it
   * in the budget that password logins use too: so each client asks at most
   * NEXUDUS_EXISTS_PER_CLIENT times a minute, and all of them together at most
   * NEXUDUS_EXISTS_RATE_LIMIT, which leaves the rest of the budget to logins.
   */
  async exists(email: string): Promise<boolean> {
    validateEmail(email);
    const { client, ctx } = this;
    const { limiter, tokens } = ctx.services;
    const { existsPerClient, existsRateLimit } = client.config;
    const caller = tokens.key(VENDOR, 'exists-caller', ctx.request.clientAddress);
    await limiter.acquire(VENDOR, `nexudus:exists:${caller}`, [{ limit: existsPerClient, windowMs: 60_000 }], 0, ctx.scope.signal);
    await limiter.acquire(VENDOR, 'nexudus:anonymous:exists', [{ limit: existsRateLimit, windowMs: 60_000 }], Math.min(client.api.timeoutMs, ctx.scope.deadline - Date.now()), ctx.scope.signal);
    const res = await this.client.portal.request({
      scope: ctx.scope,
      operation: 'user.exists',
      method: 'GET',
      path: '/en/user/exists',
      query: { email },
      read: true,
      rate: this.client.rate('anonymous'),
    });
    if (res.status !== 200) throw this.client.mapError(res);
    const text = res.text.trim().toLowerCase();
    if (text === 'true' || text === '"true"') return true;
    if (text === 'false' || text === '"false"') return false;
    throw new UpstreamError(VENDOR, 'Nexudus answered something other than true or false');
  }

  /** A one-time members-portal token for another user, with the session's bearer. */
  async impersonate(userId: string): Promise<ImpersonationRecord> {
    const login = this.sessionLogin(await this.ctx.session());
    if (!/^\d{1,18}$/.test(userId)) throw new BadUserInputError('userId: a Nexudus user id is a number', 'userId', { vendor: VENDOR });
    const key = login.tokenKey ?? NEXUDUS_SLOT;
    // Nexudus answers a missing role with a bare 401, as it answers a stale bearer. So a 401 is
    // retried once after a fresh login, unless the bearer already was fresh; a 401 on a bearer
    // that /en/user/me has just accepted can only mean the role is missing.
    const lacksRole = this.client.lacksRole.has(key);
    const { res, fresh } = await this.withBearer(login, async (token) => {
      // The bearer first: a login it may need books its own /en/user/me in this pacing queue, and
      // the call must queue behind that, not slip out right after it.
      const bearer = await token();
      return this.client.api.request({
        scope: this.ctx.scope,
        operation: 'user.impersonate',
        method: 'GET',
        path: `/api/sys/users/${userId}/token/refresh`,
        rate: this.client.rate(key),
        auth: async () => ({ authorization: `Bearer ${bearer}` }),
      });
    }, { keepOn401: lacksRole });
    if (res.status === 401 && (fresh || lacksRole)) {
      this.client.lacksRole.set(key, true);
      throw new ForbiddenError(FORBIDDEN_MESSAGE, { vendor: VENDOR });
    }
    if (lacksRole) this.client.lacksRole.delete(key);
    const envelope = safeJson<NexudusEnvelope<unknown>>(res);
    if (res.status !== 200 || !envelope || envelope.WasSuccessful !== true) {
      if (res.status === 200 && !envelope) throw new UpstreamError(VENDOR, 'Nexudus answered something that is not JSON', { detail: res.text });
      throw this.client.mapError(res);
    }
    if (typeof envelope.Value !== 'string' || !envelope.Value) throw new UpstreamError(VENDOR, 'The Nexudus impersonation answer has no token');
    const token = envelope.Value;
    return {
      userId,
      token,
      loginUrl: `${this.client.config.spaceUrl}/en/user/login?t=${encodeURIComponent(token)}`,
      expiresAt: jwtTimes(token).expiresAt,
    };
  }
}
