import { randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { Simulator, type SimReply, type SimRequest, type SimulatorOptions } from '../../src/simulator.js';

/**
 * Nexudus Spaces as its documents and public docs describe it, API host and members portal on one
 * server: the form-only token endpoint, `/en/user/me`, `/en/user/exists`, impersonation tokens
 * (HS256 JWTs, exp - nbf = 1800 s) that work once at `/en/user/login?t=`, and the 409 throttle.
 */

export interface NexudusSimOptions extends SimulatorOptions {
  /** Seconds a bearer lives (`expires_in`). */
  tokenLifetimeSeconds?: number;
  /** Enforce 1 request per 100 ms and 120 per minute per caller with 409 (on by default). */
  enforceLimits?: boolean;
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
  enforceLimits: boolean;
  /** Token requests by content type, to check the form-only rule. */
  tokenCalls = 0;
  readonly bearers = new Map<string, { userId: number; expiresAt: number }>();
  private readonly refreshTokens = new Map<string, number>();
  private readonly usedImpersonations = new Set<string>();
  private readonly secret = new Uint8Array(randomBytes(32));
  private readonly callers = new Map<string, number[]>();

  constructor(options: NexudusSimOptions = {}) {
    super('nexudus', options);
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 604_799;
    this.enforceLimits = options.enforceLimits ?? true;
    if (options.seed !== false) for (const u of DEMO_NEXUDUS_USERS) this.users.set(u.id, { ...u });

    this.route('POST', '/api/token', (req) => this.throttled(req) ?? this.token(req));
    this.route('GET', '/en/user/me', (req) => this.throttled(req) ?? this.me(req));
    this.route('GET', '/en/user/exists', (req) => this.throttled(req) ?? this.exists(req));
    this.route('GET', '/api/sys/users/:id/token/refresh', (req) => this.throttled(req) ?? this.impersonate(req));
    this.route('GET', '/en/user/login', (req) => this.portalLogin(req));
  }

  /** Nexudus' throttle answer: 409, Retry-After: 1, empty body. */
  protected override throttleReply(): SimReply {
    return { status: 409, headers: { 'retry-after': '1' }, text: '' };
  }

  /** Drops every bearer, as if they had all expired or been revoked. */
  revokeBearers(): void {
    this.bearers.clear();
  }

  private caller(req: SimRequest): string {
    const auth = String(req.headers.authorization ?? '');
    return auth || `anonymous:${req.headers['x-forwarded-for'] ?? 'loopback'}`;
  }

  /** 1 request per 100 ms and 120 per minute per caller, answered with 409 beyond that. */
  private throttled(req: SimRequest): SimReply | undefined {
    if (!this.enforceLimits) return undefined;
    const key = this.caller(req);
    const list = (this.callers.get(key) ?? []).filter((t) => t > req.time - 60_000);
    const last = list[list.length - 1];
    if ((last !== undefined && req.time - last < 100) || list.length >= 120) {
      this.callers.set(key, list);
      return this.throttleReply();
    }
    list.push(req.time);
    this.callers.set(key, list);
    return undefined;
  }

  private userFromAuth(req: SimRequest): NexudusSimUser | undefined {
    const auth = String(req.headers.authorization ?? '');
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
    this.refreshTokens.set(refreshToken, user.id);
    return { status: 200, json: { access_token: accessToken, token_type: 'bearer', expires_in: this.tokenLifetimeSeconds, refresh_token: refreshToken } };
  }

  private token(req: SimRequest): SimReply {
    this.tokenCalls++;
    const invalid = (description: string) => ({ status: 400, json: { error: 'invalid_grant', error_description: description } });
    if (!req.form) return { status: 400, json: { error: 'unsupported_grant_type' } };
    const grant = req.form.get('grant_type');
    if (grant === 'refresh_token') {
      const userId = this.refreshTokens.get(req.form.get('refresh_token') ?? '');
      const user = userId !== undefined ? this.users.get(userId) : undefined;
      return user ? this.issueBearer(user, req.time) : invalid('The refresh token is invalid.');
    }
    if (grant !== 'password') return { status: 400, json: { error: 'unsupported_grant_type' } };
    const user = [...this.users.values()].find((u) => u.email.toLowerCase() === (req.form!.get('username') ?? '').toLowerCase());
    if (!user || user.password !== req.form.get('password') || !user.active) return invalid('The user name or password is incorrect.');
    if (user.totp && req.form.get('totp') !== user.totp) return invalid('The one-time code is missing or incorrect.');
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
        AccessToken: null,
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
      return { status: 401, json: { Status: 401, Message: 'Access denied: this action requires the role ADMIN or User-Edit.', Value: null, Errors: null, WasSuccessful: false } };
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
    return { status: 200, json: { Status: 200, Message: 'OK', Value: value, Errors: null, WasSuccessful: true } };
  }

  /** The members portal login link: works once, then redirects to the portal. */
  private async portalLogin(req: SimRequest): Promise<SimReply> {
    const t = req.query.get('t') ?? '';
    try {
      const { payload } = await jwtVerify(t, this.secret, { algorithms: ['HS256'], currentDate: new Date(req.time) });
      const jti = String(payload.jti);
      if (this.usedImpersonations.has(jti)) throw new Error('used');
      this.usedImpersonations.add(jti);
      const redirect = req.query.get('redirectUrl');
      return { status: 302, headers: { location: redirect && redirect.startsWith('/') ? redirect : '/', 'set-cookie': `nexudus_session=${randomBytes(16).toString('hex')}; HttpOnly; Path=/` }, text: '' };
    } catch {
      return { status: 401, text: 'This login link is invalid, expired or has already been used.' };
    }
  }
}
