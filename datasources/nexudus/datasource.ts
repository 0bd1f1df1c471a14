import DataLoader from 'dataloader';
import type { SessionRecord, StoredLogin } from '../../src/auth/sessions.js';
import { jwtTimes, withTokenRetry } from '../../src/auth/token-cache.js';
import { BadUserInputError, ForbiddenError, UnauthenticatedError, UpstreamError } from '../../src/errors.js';
import { checkLength, INPUT_LIMITS, validateEmail, validatePassword } from '../../src/limits/input.js';
import type { UpstreamResponse } from '../../src/upstream/client.js';
import { safeJson } from '../../src/upstream/vendor-api.js';
import type { VendorRequest } from '../../src/vendors/module.js';
import { FORBIDDEN_MESSAGE, NEXUDUS_SLOT, VENDOR, type LoginMeta, type NexudusClient, type SealedCredentials } from './client.js';
import type { ImpersonationRecord, NexudusEnvelope, NexudusUserRecord } from './models.js';

/** Per-request face of the Nexudus client. */
export class NexudusDataSource {
  /** `/en/user/me` once per request per login, however many fields ask. */
  private readonly meLoader: DataLoader<string, NexudusUserRecord>;
  private readonly loginsByKey = new Map<string, StoredLogin>();

  constructor(
    private readonly client: NexudusClient,
    private readonly ctx: VendorRequest,
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
    const entry = await ctx.services.loginThrottle.attempt(VENDOR, email, ctx.clientAddress, `${password}\u0000${totp ?? ''}`, async () =>
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
    throw this.client.errorFromResponse(res);
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
    const caller = tokens.key(VENDOR, 'exists-caller', ctx.clientAddress);
    await limiter.acquire(VENDOR, `nexudus:exists:${caller}`, [{ limit: existsPerClient, windowMs: 60_000 }], 0, ctx.scope.signal);
    await limiter.acquire(VENDOR, 'nexudus:anonymous:exists', [{ limit: existsRateLimit, windowMs: 60_000 }], Math.min(client.api.timeoutMs, ctx.scope.deadline - ctx.services.clock.now()), ctx.scope.signal);
    const res = await this.client.portal.request({
      scope: ctx.scope,
      operation: 'user.exists',
      method: 'GET',
      path: '/en/user/exists',
      query: { email },
      read: true,
      rate: this.client.rate('anonymous'),
    });
    if (res.status !== 200) throw this.client.errorFromResponse(res);
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
      throw this.client.errorFromResponse(res);
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
