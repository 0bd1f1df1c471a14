import { randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { SlidingLog } from '../../src/limits/sliding-log.js';
import { Simulator, type SimReply, type SimRequest, type SimulatorOptions } from '../server.js';

/**
 * Nexudus Spaces as its documents and public docs describe it, API host and members portal on one
 * server: the form-only token endpoint, `/en/user/me`, `/en/user/exists`, impersonation tokens
 * (HS256 JWTs, exp - nbf = 1800 s) that work once at `/en/user/login?t=`, and the 409 throttle.
 * With `hosts`, one server still answers both, but it tells them apart by the Host header.
 */

/** VENDOR-FACTS: 1 request per 100 ms, 120/min, 5000/hour; writes 60/min. */
export interface NexudusLimits {
  minIntervalMs: number;
  perMinute: number;
  perHour: number;
  writesPerMinute: number;
}

export const NEXUDUS_LIMITS: NexudusLimits = { minIntervalMs: 100, perMinute: 120, perHour: 5000, writesPerMinute: 60 };

export interface NexudusSimOptions extends SimulatorOptions {
  /** Seconds a bearer lives (`expires_in`). */
  tokenLifetimeSeconds?: number;
  /** Seconds a refresh token lives: 15 days, per VENDOR-FACTS. */
  refreshTokenLifetimeSeconds?: number;
  /** Enforce the limits per caller with 409 (on by default). */
  enforceLimits?: boolean;
  limits?: Partial<NexudusLimits>;
  /**
   * How a caller without ADMIN or User-Edit is refused. The docs say only "missing permission:
   * 401", so a bare 401 by default; 'envelope' adds the failure envelope (assumed variant).
   */
  forbiddenReply?: 'bare' | 'envelope';
  /**
   * Host names of the API host (`spaces.nexudus.com`) and the members portal
   * (`xyz.spaces.nexudus.com`), both resolving to this server; see apiUrl and spaceUrl.
   */
  hosts?: { api: string; portal: string };
  /**
   * With `hosts`: `/api/*` answers only on the API host and `/en/*` only on the portal, 404
   * elsewhere (assumed: the docs place each endpoint on one host; on by default).
   */
  strictHosts?: boolean;
  /**
   * Whether a one-time code works again once it was used (the documents do not say; RFC 6238
   * advises refusing it): 'reusable' by default, 'once' refuses a code already used.
   */
  oneTimeCodes?: 'reusable' | 'once';
  seed?: boolean;
}

export interface NexudusSimUser {
  id: number;
  email: string;
  password: string;
  fullName: string;
  roles: Array<'ADMIN' | 'User-Edit'>;
  totp?: string;
  active: boolean;
  createdOn: string;
  lastAccess: string | null;
}

export const DEMO_NEXUDUS_USERS: NexudusSimUser[] = [
  { id: 303914611, email: 'admin@coworking.example', password: 'demo-admin-1', fullName: 'Alex Admin', roles: ['ADMIN'], active: true, createdOn: '2017-02-24T23:45:48Z', lastAccess: '2024-05-02T09:15:00Z' },
  { id: 303914612, email: 'editor@coworking.example', password: 'demo-editor-1', fullName: 'Erin Editor', roles: ['User-Edit'], active: true, createdOn: '2018-06-01T08:00:00Z', lastAccess: '2024-05-01T17:40:00Z' },
  { id: 303914613, email: 'member@coworking.example', password: 'demo-member-1', fullName: 'Morgan Member', roles: [], active: true, createdOn: '2021-09-15T12:30:00Z', lastAccess: null },
  { id: 303914614, email: 'twofactor@coworking.example', password: 'demo-2fa-1', fullName: 'Tess Twofactor', roles: [], totp: '123456', active: true, createdOn: '2022-01-10T10:00:00Z', lastAccess: null },
];

export class NexudusSimulator extends Simulator {
  readonly users = new Map<number, NexudusSimUser>();
  tokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  enforceLimits: boolean;
  limits: NexudusLimits;
  forbiddenReply: 'bare' | 'envelope';
  readonly hosts?: { api: string; portal: string };
  strictHosts: boolean;
  oneTimeCodes: 'reusable' | 'once';
  /** Users whose (fixed, simulated) one-time code was used, for `oneTimeCodes: 'once'`. */
  private readonly usedCodes = new Set<number>();
  /** Token requests by content type, to check the form-only rule. */
  tokenCalls = 0;
  readonly bearers = new Map<string, { userId: number; expiresAt: number }>();
  /** Every bearer, refresh and impersonation token ever issued, for secret scans; never cleared. */
  readonly issued = new Set<string>();
  private readonly refreshTokens = new Map<string, { userId: number; expiresAt: number }>();
  private readonly usedImpersonations = new Set<string>();
  private readonly secret = new Uint8Array(randomBytes(32));
  private readonly callers = new Map<string, { all: SlidingLog; writes: SlidingLog }>();

  constructor(options: NexudusSimOptions = {}) {
    super('nexudus', options);
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 604_799;
    this.refreshTokenLifetimeSeconds = options.refreshTokenLifetimeSeconds ?? 15 * 86_400;
    this.enforceLimits = options.enforceLimits ?? true;
    this.limits = { ...NEXUDUS_LIMITS, ...options.limits };
    this.forbiddenReply = options.forbiddenReply ?? 'bare';
    this.hosts = options.hosts;
    this.strictHosts = options.strictHosts ?? true;
    this.oneTimeCodes = options.oneTimeCodes ?? 'reusable';
    if (options.seed !== false) for (const u of DEMO_NEXUDUS_USERS) this.users.set(u.id, { ...u });

    this.route('POST', '/api/token', (req) => this.wrongHost(req, 'api') ?? this.throttled(req) ?? this.token(req));
    this.route('GET', '/en/user/me', (req) => this.wrongHost(req, 'portal') ?? this.throttled(req) ?? this.me(req));
    this.route('GET', '/en/user/exists', (req) => this.wrongHost(req, 'portal') ?? this.throttled(req) ?? this.exists(req));
    this.route('GET', '/api/sys/users/:id/token/refresh', (req) => this.wrongHost(req, 'api') ?? this.throttled(req) ?? this.impersonate(req));
    this.route('GET', '/en/user/login', (req) => this.wrongHost(req, 'portal') ?? this.portalLogin(req));
  }

  /** The API host's base URL (the server's own URL without `hosts`). */
  get apiUrl(): string {
    return this.urlFor(this.hosts?.api);
  }

  /** The members portal's base URL (the server's own URL without `hosts`). */
  get spaceUrl(): string {
    return this.urlFor(this.hosts?.portal);
  }

  private urlFor(hostname: string | undefined): string {
    if (!hostname || !this.url) return this.url;
    const u = new URL(this.url);
    u.hostname = hostname;
    return u.origin;
  }

  /** The logged requests with the Host each one named, to tell the API host from the portal. */
  calls(): Array<{ method: string; path: string; host: string }> {
    return this.log.map((r) => ({ method: r.method, path: r.path, host: String(r.headers.host ?? '') }));
  }

  /** Nexudus' throttle answer: 409 with its own reason phrase, Retry-After: 1, empty body. */
  protected override throttleReply(): SimReply {
    return { status: 409, statusText: 'You must wait before accessing this url again.', headers: { 'retry-after': '1' }, text: '' };
  }

  /** Drops every bearer, as if they had all expired or been revoked. */
  revokeBearers(): void {
    this.bearers.clear();
  }

  private wrongHost(req: SimRequest, face: 'api' | 'portal'): SimReply | undefined {
    if (!this.hosts || !this.strictHosts) return undefined;
    let hostname = '';
    try {
      hostname = new URL(`http://${String(req.headers.host ?? '')}`).hostname;
    } catch {
      // No usable Host: it names neither face.
    }
    return hostname === this.hosts[face] ? undefined : this.errorReply(404, 'Not found');
  }

  /**
   * The docs' examples write `Authentication: Basic ...` / `Authentication: Bearer ...`, but
   * `Authentication` is no standard HTTP header and every real Nexudus client sends `Authorization`;
   * accepting both keeps the simulator true to the docs without rejecting what works in practice.
   */
  private authHeader(req: SimRequest): string {
    return String(req.headers.authorization ?? req.headers.authentication ?? '');
  }

  private caller(req: SimRequest): string {
    return this.authHeader(req) || `anonymous:${req.headers['x-forwarded-for'] ?? 'loopback'}`;
  }

  /**
   * The documented limits per caller, answered with 409 beyond them. Assumed: a "write" is any
   * method but GET, the token request included, and refused requests do not count.
   */
  private throttled(req: SimRequest): SimReply | undefined {
    if (!this.enforceLimits) return undefined;
    const key = this.caller(req);
    const { minIntervalMs, perMinute, perHour, writesPerMinute } = this.limits;
    const state = this.callers.get(key) ?? { all: new SlidingLog(), writes: new SlidingLog() };
    this.callers.set(key, state);
    state.all.prune(req.time - 3_600_000);
    state.writes.prune(req.time - 60_000);
    const last = state.all.back(1);
    const write = req.method !== 'GET';
    if (
      (last !== undefined && req.time - last < minIntervalMs) ||
      state.all.countSince(req.time - 60_000) >= perMinute ||
      state.all.size >= perHour ||
      (write && state.writes.size >= writesPerMinute)
    ) {
      return this.throttleReply();
    }
    state.all.add(req.time);
    if (write) state.writes.add(req.time);
    return undefined;
  }

  private userFromAuth(req: SimRequest): NexudusSimUser | undefined {
    const auth = this.authHeader(req);
    if (auth.startsWith('Bearer ')) {
      const b = this.bearers.get(auth.slice(7));
      if (!b || b.expiresAt <= req.time) return undefined;
      return this.users.get(b.userId);
    }
    if (auth.startsWith('Basic ')) {
      const [email, password] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      const u = [...this.users.values()].find((x) => x.email === email);
      return u && u.password === password && !u.totp ? u : undefined;
    }
    return undefined;
  }

  private issueBearer(user: NexudusSimUser, now: number): SimReply {
    const accessToken = randomBytes(32).toString('base64url');
    const refreshToken = randomBytes(32).toString('base64url');
    this.bearers.set(accessToken, { userId: user.id, expiresAt: now + this.tokenLifetimeSeconds * 1000 });
    this.refreshTokens.set(refreshToken, { userId: user.id, expiresAt: now + this.refreshTokenLifetimeSeconds * 1000 });
    this.issued.add(accessToken).add(refreshToken);
    return { status: 200, json: { access_token: accessToken, token_type: 'bearer', expires_in: this.tokenLifetimeSeconds, refresh_token: refreshToken } };
  }

  private token(req: SimRequest): SimReply {
    this.tokenCalls++;
    const invalid = (description: string) => ({ status: 400, json: { error: 'invalid_grant', error_description: description } });
    if (!req.form) return { status: 400, json: { error: 'unsupported_grant_type' } };
    const grant = req.form.get('grant_type');
    if (grant === 'refresh_token') {
      const refresh = this.refreshTokens.get(req.form.get('refresh_token') ?? '');
      const user = refresh && refresh.expiresAt > req.time ? this.users.get(refresh.userId) : undefined;
      return user ? this.issueBearer(user, req.time) : invalid('The refresh token is invalid.');
    }
    if (grant !== 'password') return { status: 400, json: { error: 'unsupported_grant_type' } };
    const user = [...this.users.values()].find((u) => u.email.toLowerCase() === (req.form!.get('username') ?? '').toLowerCase());
    if (!user || user.password !== req.form.get('password') || !user.active) return invalid('The user name or password is incorrect.');
    if (user.totp && req.form.get('totp') !== user.totp) return invalid('The one-time code is missing or incorrect.');
    if (user.totp && this.oneTimeCodes === 'once') {
      if (this.usedCodes.has(user.id)) return invalid('The one-time code is missing or incorrect.');
      this.usedCodes.add(user.id);
    }
    return this.issueBearer(user, req.time);
  }

  private me(req: SimRequest): SimReply {
    const user = this.userFromAuth(req);
    if (!user) return { status: 401, text: '' };
    return {
      status: 200,
      json: {
        NewPasswordConfirm: null,
        OldPassword: null,
        DefaultBusinessId: 287264677,
        DefaultBusinessName: 'Demo Coworking',
        FullName: user.fullName,
        Email: user.email,
        // The docs' example carries a JWT here, the bearer the call came with: a secret the
        // gateway must not pass on (the tests' scans look for every issued token).
        AccessToken: this.authHeader(req).startsWith('Bearer ') ? this.authHeader(req).slice(7) : null,
        Active: user.active,
        IsAdmin: user.roles.includes('ADMIN'),
        APIAccess: true,
        Validated: true,
        MustResetPassword: false,
        LastAccess: user.lastAccess,
        Businesses: [287264677],
        UserRoles: user.roles.map((r) => (r === 'ADMIN' ? 770685918 : 800349553)),
        Id: user.id,
        UpdatedOn: user.createdOn,
        CreatedOn: user.createdOn,
        UniqueId: randomUUID(),
        UpdatedBy: user.email,
        IsNew: false,
        ToStringText: `${user.fullName} - ${user.email}`,
      },
    };
  }

  private exists(req: SimRequest): SimReply {
    const email = (req.query.get('email') ?? '').toLowerCase();
    const found = [...this.users.values()].some((u) => u.email.toLowerCase() === email);
    return { status: 200, json: found };
  }

  private async impersonate(req: SimRequest): Promise<SimReply> {
    const caller = this.userFromAuth(req);
    if (!caller) return { status: 401, text: '' };
    if (!caller.roles.includes('ADMIN') && !caller.roles.includes('User-Edit')) {
      return this.forbiddenReply === 'envelope'
        ? { status: 401, json: { Status: 401, Message: 'Access denied: this action requires the role ADMIN or User-Edit.', Value: null, Errors: null, WasSuccessful: false } }
        : { status: 401, text: '' };
    }
    const target = this.users.get(Number(req.params.id));
    if (!target) return { status: 200, json: { Status: 404, Message: 'User not found.', Value: null, Errors: null, WasSuccessful: false } };
    const nbf = Math.floor(req.time / 1000);
    const value = await new SignJWT({ email: target.email })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(target.id))
      .setJti(randomUUID())
      .setNotBefore(nbf)
      .setIssuedAt(nbf)
      .setExpirationTime(nbf + 1800)
      .sign(this.secret);
    this.issued.add(value);
    return { status: 200, json: { Status: 200, Message: 'OK', Value: value, Errors: null, WasSuccessful: true } };
  }

  /** The members portal login link: works once, then redirects to the space's own (absolute) URL. */
  private async portalLogin(req: SimRequest): Promise<SimReply> {
    const t = req.query.get('t') ?? '';
    try {
      const { payload } = await jwtVerify(t, this.secret, { algorithms: ['HS256'], currentDate: new Date(req.time) });
      const jti = String(payload.jti);
      if (this.usedImpersonations.has(jti)) throw new Error('used');
      this.usedImpersonations.add(jti);
      const redirect = req.query.get('redirectUrl');
      const space = `${this.url.startsWith('https') ? 'https' : 'http'}://${String(req.headers.host ?? new URL(this.url).host)}`;
      // Assumed: only paths on the space are followed, so the link cannot send anyone elsewhere.
      const location = redirect && redirect.startsWith('/') && !redirect.startsWith('//') ? `${space}${redirect}` : space;
      return { status: 302, headers: { location, 'set-cookie': `nexudus_session=${randomBytes(16).toString('hex')}; HttpOnly; Path=/` }, text: '' };
    } catch {
      return { status: 401, text: 'This login link is invalid, expired or has already been used.' };
    }
  }
}
