import { randomBytes, randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { SlidingLog } from '../../src/limits/sliding-log.js';
import { Simulator, type SimReply, type SimRequest, type SimulatorOptions } from '../server.js';

/**
 * A Platform instance as its REST documentation describes it: the service login that hands out an
 * HS256 JWT api_token, the client account API, the errors envelope, and 300 calls per minute per
 * endpoint (429 with Retry-After beyond that; the 429 body is assumed to be the usual envelope).
 */

export interface PlatformSimOptions extends SimulatorOptions {
  serviceUser?: { username: string; password: string };
  /** Lifetime of api_token, in seconds. */
  tokenLifetimeSeconds?: number;
  /** Calls per sliding minute per endpoint. */
  rateLimit?: number;
  /**
   * Assumed, not documented: a signup with an email already in use gets 409 `errors.conflict.email`.
   * Off by default, as the documents list only `errors.conflict.id`; the demo turns it on.
   */
  uniqueEmails?: boolean;
  /**
   * Assumed: 401 answers name the offending header in `source.header`. The documents show
   * `source` in the envelope's shape but never on a 401, so none by default.
   */
  authErrorSource?: boolean;
  /**
   * The code of a client login's wrong password (documented: 401, code unnamed). By default
   * `errors.login.failed`, the code the documents give a refused login; `errors.auth.invalid` and
   * no code at all ('none') are the other readings.
   */
  clientLoginFailureCode?: 'errors.login.failed' | 'errors.auth.invalid' | 'none';
  /**
   * How a Client-Token the vendor does not (or no longer) accept is refused. The documents list
   * 401 and 403 for the edit and delete calls without saying which: 401 `errors.auth.invalid` by
   * default, or 403 `errors.forbidden`.
   */
  clientTokenRejection?: 'errors.auth.invalid' | 'errors.forbidden';
  /** Assumed: the undocumented 429 carries Retry-After (off by default: the documents name no header). */
  throttleRetryAfter?: boolean;
  /** Whether a call refused with 429 counts toward the window (the documents do not say; off by default). */
  refusedCallsCount?: boolean;
  seed?: boolean;
}

interface Client {
  user_id: string;
  email: string | null;
  password: string;
  first_name: string | null;
  last_name: string | null;
  phone_number: string | null;
  custom_data: unknown;
  deleted: boolean;
  deleteReason?: string;
}

export const DEMO_PLATFORM_CLIENTS = [
  { email: 'ada@example.com', password: 'demo-ada-1', first_name: 'Ada', last_name: 'Lovelace', phone_number: '+442071234567' },
  { email: 'grace@example.com', password: 'demo-grace-1', first_name: 'Grace', last_name: 'Hopper', phone_number: null },
];

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const E164 = /^\+[1-9]\d{1,14}$/;

function envelope(status: number, code: string, title: string, extra: { detail?: string; pointer?: string; header?: string } = {}): SimReply {
  const source = extra.pointer ? { pointer: extra.pointer } : extra.header ? { header: extra.header } : undefined;
  // The documentation's own example sends status as a string; so does this simulator for 4xx.
  return {
    status,
    json: { errors: [{ id: randomUUID(), title, code, ...(extra.detail ? { detail: extra.detail } : {}), ...(source ? { source } : {}), status: status < 500 ? String(status) : status }] },
  };
}

export class PlatformSimulator extends Simulator {
  readonly serviceUser: { username: string; password: string };
  tokenLifetimeSeconds: number;
  rateLimit: number;
  /** Service logins made (POST /v1/login/password answered 200). */
  serviceLogins = 0;
  /** Requests that carried an api_token past its exp. */
  expiredTokenRequests = 0;
  readonly clients = new Map<string, Client>();
  /** Every token handed out (api and client), kept across resetLog, so tests can look for them anywhere. */
  readonly issuedTokens = new Set<string>();
  private readonly clientTokens = new Map<string, { userId: string; kind: 'signup' | 'login' }>();
  private secret = new Uint8Array(randomBytes(32));
  private readonly accepted = new Map<string, SlidingLog>();
  private readonly uniqueEmails: boolean;
  private readonly authErrorSource: boolean;
  private readonly clientLoginFailureCode: string;
  private readonly clientTokenRejection: 'errors.auth.invalid' | 'errors.forbidden';
  private readonly throttleRetryAfter: boolean;
  private readonly refusedCallsCount: boolean;

  constructor(options: PlatformSimOptions = {}) {
    super('platform', options);
    this.serviceUser = options.serviceUser ?? { username: 'switchboard-service', password: `svc-${randomBytes(9).toString('base64url')}` };
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.rateLimit = options.rateLimit ?? 300;
    this.uniqueEmails = options.uniqueEmails ?? false;
    this.authErrorSource = options.authErrorSource ?? false;
    this.clientLoginFailureCode = options.clientLoginFailureCode ?? 'errors.login.failed';
    this.clientTokenRejection = options.clientTokenRejection ?? 'errors.auth.invalid';
    this.throttleRetryAfter = options.throttleRetryAfter ?? false;
    this.refusedCallsCount = options.refusedCallsCount ?? false;
    if (options.seed !== false) {
      for (const c of DEMO_PLATFORM_CLIENTS) {
        const id = randomUUID();
        this.clients.set(id, { user_id: id, ...c, custom_data: null, deleted: false });
      }
    }

    this.route('POST', '/v1/login/password', (req) => this.limited(req, 'POST /v1/login/password', () => this.serviceLogin(req)));
    this.route('POST', '/v1/client/signup', (req) => this.authed(req, 'POST /v1/client/signup', () => this.signup(req)));
    this.route('POST', '/v1/client/login', (req) => this.authed(req, 'POST /v1/client/login', () => this.login(req)));
    this.route('PUT', '/v1/client/:userId', (req) => this.authed(req, 'PUT /v1/client/{user_id}', () => this.update(req)));
    this.route('DELETE', '/v1/client/:userId', (req) => this.authed(req, 'DELETE /v1/client/{user_id}', () => this.remove(req)));
  }

  protected override throttleReply(): SimReply {
    return { ...envelope(429, 'errors.rate-limit', 'Too many requests'), headers: this.throttleRetryAfter ? { 'retry-after': '1' } : {} };
  }

  protected override notFound(): SimReply {
    return envelope(404, 'errors.not-found', 'Not found');
  }

  /** Assumed: the vendor's own 405 and 500 answers use the errors envelope too. */
  protected override errorReply(status: number, message: string): SimReply {
    return envelope(status, status === 405 ? 'errors.method-not-allowed' : 'errors.internal', message);
  }

  /** Every api_token issued so far stops verifying, as after a vendor-side key rotation. */
  rotateSigningKey(): void {
    this.secret = new Uint8Array(randomBytes(32));
  }

  /** The client tokens of one client stop working, as after a vendor-side logout. */
  revokeClientTokens(userId: string): void {
    for (const [t, v] of this.clientTokens) if (v.userId === userId) this.clientTokens.delete(t);
  }

  override stats(): Record<string, unknown> {
    return {
      ...super.stats(),
      serviceLogins: this.serviceLogins,
      expiredTokenRequests: this.expiredTokenRequests,
      maxInWindow: Object.fromEntries(['POST /v1/login/password', 'POST /v1/client/signup', 'POST /v1/client/login', 'PUT /v1/client/{user_id}', 'DELETE /v1/client/{user_id}'].map((e) => [e, this.maxInWindow(e)])),
    };
  }

  override resetLog(): void {
    super.resetLog();
    this.serviceLogins = 0;
    this.expiredTokenRequests = 0;
  }

  /** The most requests any `windowMs` window held for one endpoint (e.g. 'POST /v1/client/login'). */
  maxInWindow(endpoint: string, windowMs = 60_000): number {
    const [method, template] = endpoint.split(' ');
    const pattern = new RegExp(`^${template!.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const times = this.log.filter((r) => r.method === method && pattern.test(r.path)).map((r) => r.time);
    let best = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= windowMs) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  }

  clientByEmail(email: string): Client | undefined {
    return [...this.clients.values()].find((c) => c.email === email && !c.deleted);
  }

  /** 300 calls a minute per endpoint; whether a refused call counts too is `refusedCallsCount`. */
  private limited(req: SimRequest, endpoint: string, next: () => SimReply | Promise<SimReply>): SimReply | Promise<SimReply> {
    const now = req.time;
    const log = this.accepted.get(endpoint) ?? new SlidingLog();
    this.accepted.set(endpoint, log);
    log.prune(now - 60_000);
    if (log.size >= this.rateLimit) {
      if (this.refusedCallsCount) log.add(now);
      const retry = Math.max(1, Math.ceil((log.back(this.rateLimit)! + 60_000 - now) / 1000));
      return {
        ...envelope(429, 'errors.rate-limit', 'Too many requests', { detail: `At most ${this.rateLimit} calls per minute on this endpoint` }),
        headers: this.throttleRetryAfter ? { 'retry-after': String(retry) } : {},
      };
    }
    log.add(now);
    return next();
  }

  /** Every call counts toward the endpoint's budget, those refused at auth too (the documents make no exception). */
  private authed(req: SimRequest, endpoint: string, next: () => SimReply | Promise<SimReply>): SimReply | Promise<SimReply> {
    return this.limited(req, endpoint, async () => {
      const auth = String(req.headers.authorization ?? '');
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!token) return this.authError('Missing API token', 'Authorization');
      try {
        await jwtVerify(token, this.secret, { algorithms: ['HS256'], currentDate: new Date(req.time) });
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          this.expiredTokenRequests++;
          return this.authError('API token expired', 'Authorization');
        }
        return this.authError('Invalid API token', 'Authorization');
      }
      return next();
    });
  }

  private authError(title: string, header: string): SimReply {
    return envelope(401, 'errors.auth.invalid', title, this.authErrorSource ? { header } : {});
  }

  private async serviceLogin(req: SimRequest): Promise<SimReply> {
    const body = req.json as { username?: unknown; password?: unknown } | undefined;
    if (!body || typeof body.username !== 'string' || typeof body.password !== 'string') {
      return envelope(400, 'errors.validation.field.type', 'username and password are required', { pointer: '/username' });
    }
    if (body.username !== this.serviceUser.username || body.password !== this.serviceUser.password) {
      return envelope(401, 'errors.login.failed', 'Login failed');
    }
    this.serviceLogins++;
    const iat = Math.floor(req.time / 1000);
    const apiToken = await new SignJWT({ r: ['service'], reg: 'za' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.tokenLifetimeSeconds)
      .sign(this.secret);
    this.issuedTokens.add(apiToken);
    return { status: 200, json: { api_token: apiToken } };
  }

  private signup(req: SimRequest): SimReply {
    const b = req.json as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object') return envelope(400, 'errors.validation.field.type', 'A JSON body is required');
    if (typeof b.user_id !== 'string' || !UUID_V4.test(b.user_id)) {
      return envelope(400, 'errors.validation.field.value', 'user_id must be a UUIDv4', { pointer: '/user_id' });
    }
    if (typeof b.email !== 'string' || !b.email.includes('@')) return envelope(400, 'errors.validation.field.value', 'Invalid email', { pointer: '/email' });
    const name = b.name as Record<string, unknown> | undefined;
    if (!name || typeof name !== 'object') return envelope(400, 'errors.validation.field.type', 'name is required', { pointer: '/name' });
    if (typeof name.first_name !== 'string' || !name.first_name) return envelope(400, 'errors.validation.field.value', 'first_name is required', { pointer: '/name/first_name' });
    if (typeof name.last_name !== 'string' || !name.last_name) return envelope(400, 'errors.validation.field.value', 'last_name is required', { pointer: '/name/last_name' });
    if (typeof b.password !== 'string' || !b.password) return envelope(400, 'errors.validation.field.value', 'password is required', { pointer: '/password' });
    if (b.phone_number !== undefined && (typeof b.phone_number !== 'string' || !E164.test(b.phone_number))) {
      return envelope(400, 'errors.validation.field.value', 'phone_number must be E.164', { pointer: '/phone_number' });
    }
    if (this.clients.has(b.user_id)) return envelope(409, 'errors.conflict.id', 'User ID already exists');
    // Assumed (uniqueEmails): the documents name no email conflict.
    if (this.uniqueEmails && this.clientByEmail(b.email)) {
      return envelope(409, 'errors.conflict.email', 'A client with this email already exists', { pointer: '/email' });
    }
    this.clients.set(b.user_id, {
      user_id: b.user_id,
      email: b.email,
      password: b.password,
      first_name: name.first_name,
      last_name: name.last_name,
      phone_number: (b.phone_number as string | undefined) ?? null,
      custom_data: b.custom_data ?? null,
      deleted: false,
    });
    const token = this.clientToken(b.user_id, 'signup');
    return { status: 200, json: { client_token: token } };
  }

  private login(req: SimRequest): SimReply {
    const b = req.json as { email?: unknown; password?: unknown } | undefined;
    if (!b || typeof b.email !== 'string' || typeof b.password !== 'string') {
      return envelope(400, 'errors.validation.field.type', 'email and password are required', { pointer: '/email' });
    }
    const client = this.clientByEmail(b.email);
    if (!client) return envelope(404, 'errors.not-found', 'Client not found');
    if (client.password !== b.password) {
      if (this.clientLoginFailureCode === 'none') return { status: 401, json: { errors: [{ id: randomUUID(), title: 'Login failed', status: '401' }] } };
      return envelope(401, this.clientLoginFailureCode, 'Login failed');
    }
    const token = this.clientToken(client.user_id, 'login');
    return {
      status: 200,
      json: {
        client_token: token,
        user_id: client.user_id,
        phone_number: client.phone_number,
        email: client.email,
        name: { first_name: client.first_name, last_name: client.last_name },
      },
    };
  }

  private clientToken(userId: string, kind: 'signup' | 'login'): string {
    const token = randomBytes(24).toString('base64url');
    this.clientTokens.set(token, { userId, kind });
    this.issuedTokens.add(token);
    return token;
  }

  /**
   * The client of the path and its Client-Token. Assumed order: the api_token already vouches for
   * the caller, so an unknown or deleted user_id is 404 before the client token is looked at.
   * Edits need a token from a client login ("only after the client logged in"); a signup token
   * gets 403 `errors.forbidden` (assumed: the documents list 403 but not for what). Delete has
   * no such rule in the documents, so any token of the client will do.
   */
  private clientFor(req: SimRequest, needLogin: boolean): { client: Client } | { reply: SimReply } {
    const client = this.clients.get(req.params.userId!);
    if (!client || client.deleted) return { reply: envelope(404, 'errors.not-found', 'Client not found') };
    const header = String(req.headers['client-token'] ?? '');
    const token = this.clientTokens.get(header);
    if (!header || !token) {
      if (this.clientTokenRejection === 'errors.forbidden') return { reply: envelope(403, 'errors.forbidden', 'Invalid client token') };
      return { reply: this.authError('Invalid client token', 'Client-Token') };
    }
    if (token.userId !== client.user_id) return { reply: envelope(403, 'errors.forbidden', 'The client token belongs to another client') };
    if (needLogin && token.kind !== 'login') return { reply: envelope(403, 'errors.forbidden', 'The client must log in before the account can be edited') };
    return { client };
  }

  private update(req: SimRequest): SimReply {
    const found = this.clientFor(req, true);
    if ('reply' in found) return found.reply;
    const { client } = found;
    const b = req.json as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return envelope(400, 'errors.validation.field.type', 'A JSON object body is required');
    if ('email' in b && b.email !== null && (typeof b.email !== 'string' || !b.email.includes('@'))) {
      return envelope(400, 'errors.validation.field.value', 'Invalid email', { pointer: '/email' });
    }
    if ('phone_number' in b && b.phone_number !== null && (typeof b.phone_number !== 'string' || !E164.test(b.phone_number))) {
      return envelope(400, 'errors.validation.field.value', 'phone_number must be E.164', { pointer: '/phone_number' });
    }
    const name = b.name as Record<string, unknown> | null | undefined;
    if ('name' in b && name !== null && typeof name !== 'object') return envelope(400, 'errors.validation.field.type', 'name must be an object', { pointer: '/name' });
    for (const key of ['first_name', 'last_name'] as const) {
      if (name && key in name && name[key] !== null && typeof name[key] !== 'string') {
        return envelope(400, 'errors.validation.field.type', `${key} must be a string`, { pointer: `/name/${key}` });
      }
    }
    if ('email' in b) client.email = b.email as string | null;
    if ('phone_number' in b) client.phone_number = b.phone_number as string | null;
    if (name === null) {
      client.first_name = null;
      client.last_name = null;
    } else if (name) {
      if ('first_name' in name) client.first_name = name.first_name as string | null;
      if ('last_name' in name) client.last_name = name.last_name as string | null;
    }
    if ('custom_data' in b) client.custom_data = b.custom_data;
    return { status: 200 };
  }

  private remove(req: SimRequest): SimReply {
    const found = this.clientFor(req, false);
    if ('reply' in found) return found.reply;
    const { client } = found;
    const b = req.json as { reason?: unknown } | undefined;
    Object.assign(client, { email: null, password: '', first_name: null, last_name: null, phone_number: null, custom_data: null, deleted: true });
    if (b && typeof b.reason === 'string') client.deleteReason = b.reason;
    this.revokeClientTokens(client.user_id);
    return { status: 204 };
  }
}
