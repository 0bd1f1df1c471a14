import { randomUUID } from 'node:crypto';
import type { VendorDeps } from '../../src/vendors/module.js';
import { upstreamDefaults } from '../../src/vendors/upstream-defaults.js';
import { safeJson, VendorApi } from '../../src/upstream/vendor-api.js';
import type { PlatformConfig } from './config.js';
import {
  BadUserInputError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  NotFoundError,
  SwitchboardError,
  UnauthenticatedError,
  UpstreamError,
  errorFromStatus,
  vendorMessage,
} from '../../src/errors.js';
import { UpstreamClient, type HttpMethod, type UpstreamResponse } from '../../src/upstream/client.js';
import type { RateRule } from '../../src/limits/rate-limiter.js';
import type { CallScope } from '../../src/limits/request-scope.js';
import { checkLength, INPUT_LIMITS, validateEmail, validatePassword } from '../../src/limits/input.js';
import type { SessionRecord, StoredLogin } from '../../src/auth/sessions.js';
import { jwtTimes, renewalTime, withTokenRetry, type TokenGrant } from '../../src/auth/token-cache.js';
import type {
  ClientAccountRecord,
  ClientLoginAnswer,
  ClientUpdateBody,
  PlatformErrorEnvelope,
  PlatformErrorItem,
  SignupBody,
} from './models.js';

export const VENDOR = 'PLATFORM';
/** A 401 that could be the client's or the service token's costs at most one service re-login this often. */
const RELOGIN_TO_TELL_APART_MS = 60_000;
export const PLATFORM_SLOT = 'PLATFORM';

export const E164 = /^\+[1-9]\d{1,14}$/;

/** GraphQL input names of the vendor's fields, so validation errors name what the caller sent. */
const FIELD_NAMES: Record<string, string> = {
  email: 'email',
  phone_number: 'phoneNumber',
  'name.first_name': 'firstName',
  'name.last_name': 'lastName',
  first_name: 'firstName',
  last_name: 'lastName',
  password: 'password',
  user_id: 'userId',
};

/** What a session keeps, sealed, of a Platform client login. */
export interface SealedClient {
  clientToken: string;
}

export interface SignupInput {
  email: string;
  firstName: string;
  lastName: string;
  password: string;
  phoneNumber?: string | null;
}

export interface UpdateInput {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  phoneNumber?: string | null;
}

/**
 * The Platform REST API. The service user's api_token (a JWT) is cached until near its `exp`
 * and taken only when a call is about to go, so an expired token is never sent. Every endpoint
 * is paced under PLATFORM_RATE_LIMIT calls per sliding minute, as the vendor counts.
 */
export class PlatformClient extends VendorApi {
  protected readonly vendor = VENDOR;
  readonly http: UpstreamClient;
  private readonly serviceKey: string;
  private readonly rules: RateRule[];
  /** The service token last found rejected: callers that sent it too retry with the new one. */
  private rejected?: string;
  /** When a 401 last caused a service re-login (epoch ms). */
  private lastRelogin = Number.NEGATIVE_INFINITY;
  /** For tests: how user ids are made (UUIDv4). */
  newUserId: () => string = randomUUID;

  constructor(
    readonly config: PlatformConfig,
    private readonly deps: VendorDeps,
  ) {
    super();
    this.http = new UpstreamClient({
      vendor: VENDOR,
      baseUrl: config.baseUrl,
      ...upstreamDefaults(deps),
      limiter: deps.limiter,
    });
    this.serviceKey = deps.tokens.key(VENDOR, config.baseUrl, 'service', config.username, config.password);
    this.rules = [{ limit: config.rateLimit, windowMs: 60_000 }];
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** The service login: the operator's credentials, so a refusal is the operator's problem. */
  private readonly serviceLogin = async (): Promise<TokenGrant> => {
    const res = await this.http.request({
      operation: 'login.password',
      method: 'POST',
      path: '/v1/login/password',
      json: { username: this.config.username, password: this.config.password },
      rate: { key: 'platform:POST /v1/login/password', rules: this.rules },
    });
    if (res.status === 200) {
      const body = this.json<{ api_token?: unknown }>(res);
      if (typeof body.api_token !== 'string' || !body.api_token) throw new UpstreamError(VENDOR, 'The Platform login answer has no api_token');
      const times = jwtTimes(body.api_token);
      return { token: body.api_token, expiresAt: times.expiresAt, issuedAt: times.issuedAt };
    }
    const mapped = this.errorFromResponse(res);
    if (res.status === 400 || res.status === 401 || res.status === 403 || mapped instanceof UnauthenticatedError) {
      this.deps.logger.error(
        { vendor: VENDOR, status: res.status, variables: ['PLATFORM_SERVICE_USERNAME', 'PLATFORM_SERVICE_PASSWORD'] },
        'Platform rejected the service user: check PLATFORM_SERVICE_USERNAME and PLATFORM_SERVICE_PASSWORD',
      );
      throw new UpstreamError(VENDOR, 'The gateway could not authenticate to Platform; the operator has been notified');
    }
    throw mapped;
  };

  /**
   * A call with the service token. If Platform rejects that token (not a client token), it is
   * dropped and the call made once more after a fresh service login. `clientCredentials`: the call
   * carries a client's password or Client-Token, so a 401 may be about those instead.
   */
  async call(
    operation: string,
    method: HttpMethod,
    path: string,
    endpoint: string,
    init: { json?: unknown; headers?: Record<string, string>; clientCredentials?: boolean; scope?: CallScope } = {},
  ): Promise<UpstreamResponse> {
    let sent: string | undefined;
    return withTokenRetry(
      this.deps.tokens,
      VENDOR,
      this.serviceKey,
      this.serviceLogin,
      (token) =>
        this.http.request({
          operation,
          method,
          path,
          json: init.json,
          headers: init.headers,
          scope: init.scope,
          rate: { key: `platform:${endpoint}`, rules: this.rules },
          auth: async (note) => {
            sent = await token(note);
            return { authorization: `Bearer ${sent}` };
          },
        }),
      (res) => res.status === 401 && this.rejectsServiceToken(res, sent, init.clientCredentials === true),
    );
  }

  /**
   * Whether a 401 is about the api_token, decided from Platform's documented codes:
   * `errors.login.failed` is the client's email and password, never the service token; without
   * client credentials in the call nothing but the service token can be at fault. With them
   * (a client login, a Client-Token), `errors.auth.invalid` or a missing or unknown code may be
   * either. An undocumented `source.header` naming Authorization, or an api_token at or near its
   * exp, settle it; otherwise a fresh service login tells them apart, at most one a minute, so a
   * client's wrong password or stale Client-Token never costs more than that.
   */
  private rejectsServiceToken(res: UpstreamResponse, sent: string | undefined, clientCredentials: boolean): boolean {
    const error = this.firstError(res);
    if (error?.code === 'errors.login.failed' || sent === undefined) return false;
    if (sent === this.rejected || this.replaced(sent)) return true;
    const named = error?.source?.header?.toLowerCase();
    // An (undocumented) source naming another header than Authorization points at the client's token.
    if (clientCredentials && named !== undefined && named !== 'authorization') return false;
    let decided = !clientCredentials || named === 'authorization';
    if (!decided) {
      const { expiresAt, issuedAt } = jwtTimes(sent);
      // Near: inside the margin at which the cache renews (60 s when the token states no iat).
      decided = expiresAt !== undefined && this.deps.clock.now() >= renewalTime(issuedAt ?? 0, expiresAt, issuedAt);
    }
    if (!decided && this.deps.clock.now() - this.lastRelogin < RELOGIN_TO_TELL_APART_MS) return false;
    this.rejected = sent;
    this.lastRelogin = this.deps.clock.now();
    return true;
  }

  /** The cache already holds another service token than `sent`: a retry takes the new one, free. */
  private replaced(sent: string): boolean {
    const current = this.deps.tokens.peek<unknown>(this.serviceKey)?.token;
    return current !== undefined && current !== sent;
  }

  private firstError(res: UpstreamResponse): PlatformErrorItem | undefined {
    const body = safeJson<PlatformErrorEnvelope>(res);
    return Array.isArray(body?.errors) ? body.errors[0] : undefined;
  }

  /** The one place Platform's errors become gateway errors. */
  errorFromResponse(res: UpstreamResponse): SwitchboardError {
    const item = this.firstError(res);
    const code = item?.code ?? '';
    const message = vendorMessage(item?.detail ?? item?.title);
    const said = { detail: res.text };
    const status = Number(item?.status ?? res.status) || res.status;
    const vendorField = item?.source?.pointer?.replace(/^\//, '').replace(/\//g, '.') ?? item?.source?.parameter;
    const field = vendorField ? (FIELD_NAMES[vendorField] ?? vendorField) : undefined;
    const opts = { vendor: VENDOR, ...said };
    if (code === 'errors.login.failed') return new UnauthenticatedError('Wrong email or password', opts);
    if (code === 'errors.auth.invalid') return new UnauthenticatedError('The Platform login is no longer valid; log in again', opts);
    if (code === 'errors.forbidden') return new ForbiddenError('Platform refused this action for this client', opts);
    if (code === 'errors.not-found') return new NotFoundError('Platform has no such client', opts);
    if (code.startsWith('errors.validation')) {
      return new BadUserInputError(`${field ? `${field}: ` : ''}${message ?? 'Platform rejected the value'}`, field, opts);
    }
    if (code.startsWith('errors.conflict')) return new ConflictError('Platform already has a client with this id or email', opts);
    if (res.status < 400) return new UpstreamError(VENDOR, `Platform answered HTTP ${res.status} where it should not`, said);
    return errorFromStatus(VENDOR, { status: res.status >= 500 ? res.status : status, message, field, payload: res.text });
  }

  validateSignup(input: SignupInput): void {
    validateEmail(input.email, VENDOR);
    validatePassword(input.password, VENDOR);
    checkLength(input.firstName, 'firstName', INPUT_LIMITS.name, VENDOR);
    checkLength(input.lastName, 'lastName', INPUT_LIMITS.name, VENDOR);
    if (!input.firstName.trim()) throw new BadUserInputError('firstName: must not be empty', 'firstName', { vendor: VENDOR });
    if (!input.lastName.trim()) throw new BadUserInputError('lastName: must not be empty', 'lastName', { vendor: VENDOR });
    if (!input.password) throw new BadUserInputError('password: must not be empty', 'password', { vendor: VENDOR });
    if (input.phoneNumber != null && !E164.test(input.phoneNumber)) {
      throw new BadUserInputError('phoneNumber: must be in E.164 form, e.g. +27821234567', 'phoneNumber', { vendor: VENDOR });
    }
  }

  validateUpdate(input: UpdateInput): void {
    if (Object.keys(input).length === 0) throw new BadUserInputError('input: give at least one field to change', 'input', { vendor: VENDOR });
    if (input.email != null) validateEmail(input.email, VENDOR);
    checkLength(input.firstName, 'firstName', INPUT_LIMITS.name, VENDOR);
    checkLength(input.lastName, 'lastName', INPUT_LIMITS.name, VENDOR);
    if (input.phoneNumber != null && !E164.test(input.phoneNumber)) {
      throw new BadUserInputError('phoneNumber: must be in E.164 form, e.g. +27821234567', 'phoneNumber', { vendor: VENDOR });
    }
  }

  /** A StoredLogin for a session: the client token sealed, the profile in clear. */
  toLogin(answer: ClientLoginAnswer): StoredLogin {
    const { client_token: clientToken, ...profile } = answer;
    const sealed: SealedClient = { clientToken };
    return {
      vendor: VENDOR,
      slot: PLATFORM_SLOT,
      subject: profile.email ?? profile.user_id,
      sealed: this.deps.sealer.sealJson(sealed),
      profile: { ...profile },
    };
  }

  clientToken(login: StoredLogin): string {
    const sealed = this.deps.sealer.openJson<SealedClient>(login.sealed);
    if (!sealed?.clientToken) throw new UnauthenticatedError('The Platform client login of this session is unusable; log in again', { vendor: VENDOR });
    return sealed.clientToken;
  }
}

