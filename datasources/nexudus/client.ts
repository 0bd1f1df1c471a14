import { LRUCache } from 'lru-cache';
import type { VendorDeps } from '../../src/vendors/module.js';
import { upstreamDefaults } from '../../src/vendors/upstream-defaults.js';
import { safeJson, VendorApi } from '../../src/upstream/vendor-api.js';
import type { NexudusConfig } from './config.js';
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
import { UpstreamClient, type UpstreamCall, type UpstreamResponse } from '../../src/upstream/client.js';
import type { RateRule } from '../../src/limits/rate-limiter.js';
import type { CallScope } from '../../src/limits/request-scope.js';
import { checkLength, INPUT_LIMITS, validateEmail, validatePassword } from '../../src/limits/input.js';
import type { SessionRecord, StoredLogin } from '../../src/auth/sessions.js';
import { jwtTimes, withTokenRetry, type TokenGrant } from '../../src/auth/token-cache.js';
import type { ImpersonationRecord, NexudusEnvelope, NexudusTokenAnswer, NexudusUserRecord } from './models.js';

export const VENDOR = 'NEXUDUS';
export const NEXUDUS_SLOT = 'NEXUDUS';
/** Nexudus allows 60 writes (POSTs) a minute, and the token request is one: this budget comes on top of every call's per-identity pacing. */
export const WRITE_RATE: { key: string; rules: RateRule[] } = { key: 'nexudus:anonymous:writes', rules: [{ limit: 60, windowMs: 60_000 }] };

/** What a session keeps, sealed, to log in again when the bearer is rejected or evicted. */
export interface SealedCredentials {
  email: string;
  password: string;
  totp?: string;
}

export interface LoginMeta {
  userId: number;
  email: string | null;
}

/**
 * Nexudus: bearer tokens from `POST /api/token` (form-urlencoded), the members portal at
 * NEXUDUS_SPACE_URL, impersonation on the API host. Nexudus throttles with 409 + Retry-After,
 * not 429; calls are paced per identity under 1 per 100 ms and NEXUDUS_RATE_LIMIT per minute.
 */
export class NexudusClient extends VendorApi {
  protected readonly vendor = VENDOR;
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
    super();
    const common = {
      vendor: VENDOR,
      ...upstreamDefaults(deps),
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
      const deadline = this.deps.clock.now() + this.api.timeoutMs;
      await this.deps.limiter.acquire(VENDOR, WRITE_RATE.key, WRITE_RATE.rules, deadline - this.deps.clock.now());
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
      const answer = this.json<Partial<NexudusTokenAnswer>>(res);
      if (typeof answer.access_token !== 'string' || !answer.access_token) throw new UpstreamError(VENDOR, 'The Nexudus token answer has no access_token');
      const me = await this.me(answer.access_token, key);
      if (!me.ok) throw me.status === 401 ? new UpstreamError(VENDOR, 'Nexudus refused a token it had just issued') : this.errorFromResponse(me.res);
      const lifetime = Number(answer.expires_in);
      return {
        token: answer.access_token,
        expiresAt: Number.isFinite(lifetime) && lifetime > 0 ? this.deps.clock.now() + lifetime * 1000 : undefined,
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
    const user = this.json<NexudusUserRecord>(res);
    if (!user || typeof user !== 'object' || typeof user.Id !== 'number') throw new UpstreamError(VENDOR, 'The Nexudus user record has no Id');
    return { ok: true, user };
  }

  credentials(login: StoredLogin): SealedCredentials {
    const creds = this.deps.sealer.openJson<SealedCredentials>(login.sealed);
    if (!creds) throw new UnauthenticatedError('The Nexudus login of this session is unusable; log in again', { vendor: VENDOR });
    return creds;
  }

  /** The one place Nexudus answers become gateway errors. */
  errorFromResponse(res: UpstreamResponse): SwitchboardError {
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

export const FORBIDDEN_MESSAGE = 'This Nexudus login may not do that (needs role ADMIN or User-Edit)';
