import type { NexudusClient, NexudusDataSource } from '../datasources/nexudus/client.js';
import type { NurevaClient, NurevaDataSource } from '../datasources/nureva/client.js';
import type { NuveqClient, NuveqDataSource } from '../datasources/nuveq/client.js';
import type { PlatformClient, PlatformDataSource } from '../datasources/platform/client.js';
import type { Config } from './config.js';
import { UnauthenticatedError, VendorNotConfiguredError } from './errors.js';
import type { Logger } from './logger.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Metrics } from './metrics.js';
import { UNBOUNDED_SCOPE, type CallScope } from './request-scope.js';
import type { RateLimiter } from './rate-limit.js';
import type { Keys, Sealer } from './secrets.js';
import type { SessionManager, SessionPayloadModel, SessionRecord, StoredLogin } from './sessions.js';
import type { TokenCache } from './token-cache.js';

/** Process-wide services every vendor client is built from. */
export interface VendorDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenCache;
  limiter: RateLimiter;
  sealer: Sealer;
  loginThrottle: LoginThrottle;
  sessions: SessionManager;
}

/** The vendor clients of this gateway; a disabled vendor is absent. */
export interface Vendors {
  nuveq?: NuveqClient;
  nexudus?: NexudusClient;
  platform?: PlatformClient;
  nureva?: NurevaClient;
}

export interface Services extends VendorDeps {
  keys: Keys;
  vendors: Vendors;
}

export interface RequestInfo {
  /** The bearer token as sent, if any. */
  readonly token?: string;
  /** The client's address (after TRUST_PROXY hops); read by the per-client throttles. */
  readonly clientAddress: string;
  /** The request's vendor-call scope (cancellation, deadline, call budget). */
  readonly scope?: CallScope;
}

/**
 * The per-request context. The session is looked up only when a resolver asks (public queries
 * cost no verification), and each vendor's datasource, with its DataLoaders, is created on first
 * use and lives exactly as long as the request.
 */
export class Context {
  private sessionLookup?: Promise<SessionRecord | undefined>;
  private nuveqDs?: NuveqDataSource;
  private nexudusDs?: NexudusDataSource;
  private platformDs?: PlatformDataSource;
  private nurevaDs?: NurevaDataSource;

  constructor(
    readonly services: Services,
    readonly request: RequestInfo,
  ) {}

  get logger(): Logger {
    return this.services.logger;
  }

  /** What this request's vendor calls carry: its cancellation, deadline and call budget. */
  get scope(): CallScope {
    return this.request.scope ?? UNBOUNDED_SCOPE;
  }

  /** The live session of this request's token, or undefined. */
  session(): Promise<SessionRecord | undefined> {
    this.sessionLookup ??= this.request.token ? this.services.sessions.resolve(this.request.token) : Promise.resolve(undefined);
    return this.sessionLookup;
  }

  async requireSession(): Promise<SessionRecord> {
    const session = await this.session();
    if (session) return session;
    throw new UnauthenticatedError(
      this.request.token ? 'The session token is invalid, expired or revoked' : 'A session is required: send Authorization: Bearer <token> from a login',
    );
  }

  /**
   * Where a login will go: the caller's session, if any. Resolved before the vendor is asked, and
   * refused at once when the session store is down.
   */
  async loginTarget(): Promise<{ token: string; session: SessionRecord } | undefined> {
    const current = await this.current();
    this.services.sessions.assertWritable();
    return current;
  }

  /**
   * Keeps a login: in the caller's session (`target`, from loginTarget), or in a new one, which
   * counts as this client's (per-client caps on new and live sessions).
   */
  attach(target: { token: string; session: SessionRecord } | undefined, login: StoredLogin): Promise<SessionPayloadModel> {
    return this.services.sessions.attach(target, login, this.request.clientAddress);
  }

  /** The caller's session with its token, for logins that attach to it. */
  async current(): Promise<{ token: string; session: SessionRecord } | undefined> {
    const session = await this.session();
    return session && this.request.token ? { token: this.request.token, session } : undefined;
  }

  get nuveq(): NuveqDataSource {
    const client = this.services.vendors.nuveq;
    if (!client) throw new VendorNotConfiguredError('NUVEQ');
    return (this.nuveqDs ??= client.forRequest(this));
  }

  get nexudus(): NexudusDataSource {
    const client = this.services.vendors.nexudus;
    if (!client) throw new VendorNotConfiguredError('NEXUDUS');
    return (this.nexudusDs ??= client.forRequest(this));
  }

  get platform(): PlatformDataSource {
    const client = this.services.vendors.platform;
    if (!client) throw new VendorNotConfiguredError('PLATFORM');
    return (this.platformDs ??= client.forRequest(this));
  }

  get nureva(): NurevaDataSource {
    const client = this.services.vendors.nureva;
    if (!client) throw new VendorNotConfiguredError('NUREVA');
    return (this.nurevaDs ??= client.forRequest(this));
  }
}
