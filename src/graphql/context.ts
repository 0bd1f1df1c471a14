import type { Keys } from '../auth/keys.js';
import type { SessionManager, SessionPayloadModel, SessionRecord, StoredLogin } from '../auth/sessions.js';
import type { Config } from '../config/types.js';
import { UnauthenticatedError, VendorNotConfiguredError } from '../errors.js';
import { UNBOUNDED_SCOPE, type CallScope } from '../limits/request-scope.js';
import type { Logger } from '../logger.js';
import type { DataSources, VendorClient, VendorDeps, VendorModule, VendorRequest } from '../vendors/module.js';

/** A configured vendor: its module and its process-wide client. */
export interface VendorEntry {
  module: VendorModule;
  client: VendorClient;
}

/** Process-wide services the per-request context is built from. */
export interface Services extends VendorDeps {
  config: Config;
  keys: Keys;
  sessions: SessionManager;
  /** Every vendor of the registry, configured or not. */
  modules: ReadonlyMap<string, VendorModule>;
  /** The configured vendors, by module key. */
  vendors: ReadonlyMap<string, VendorEntry>;
}

export interface RequestInfo {
  /** The bearer token as sent, if any. */
  readonly token?: string;
  /** The client's address (after TRUST_PROXY hops); read by the per-client limits. */
  readonly clientAddress: string;
  /** The request's vendor-call scope (cancellation, deadline, call budget). */
  readonly scope?: CallScope;
}

/**
 * The per-request context. The session is looked up only when a resolver asks (public queries
 * cost no verification), and each vendor's datasource, with its DataLoaders, is created on first
 * use and lives exactly as long as the request. Datasources see it as a VendorRequest only.
 */
export class Context implements VendorRequest {
  private sessionLookup?: Promise<SessionRecord | undefined>;
  private datasources?: Record<string, unknown>;

  constructor(
    readonly services: Services,
    readonly request: RequestInfo,
  ) {}

  get logger(): Logger {
    return this.services.logger;
  }

  get token(): string | undefined {
    return this.request.token;
  }

  get clientAddress(): string {
    return this.request.clientAddress;
  }

  /** What this request's vendor calls carry: its cancellation, deadline and call budget. */
  get scope(): CallScope {
    return this.request.scope ?? UNBOUNDED_SCOPE;
  }

  /** The per-request datasource of a vendor; VENDOR_NOT_CONFIGURED when this gateway has none. */
  vendor<K extends keyof DataSources & string>(key: K): DataSources[K] {
    const known = this.datasources?.[key];
    if (known !== undefined) return known as DataSources[K];
    const entry = this.services.vendors.get(key);
    if (!entry) throw new VendorNotConfiguredError(this.services.modules.get(key)?.name ?? key.toUpperCase());
    const created = entry.module.forRequest(entry.client, this);
    (this.datasources ??= {})[key] = created;
    return created as DataSources[K];
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
}
