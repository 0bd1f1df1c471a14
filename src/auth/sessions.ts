import { hash, randomUUID, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { ErrorCode, RateLimitedError, SwitchboardError, UpstreamError, type VendorName } from '../errors.js';
import type { FailureStore } from '../limits/login-throttle.js';

/**
 * One vendor login held by a session. Anything needed to log in again (a password, a vendor
 * session token) is in `sealed`, encrypted with the gateway's sealing key; the rest is not secret.
 */
export interface StoredLogin {
  vendor: VendorName;
  /** A session holds one login per slot: per vendor, or finer where the vendor needs it (per device). */
  slot: string;
  subject: string;
  /** Epoch ms, when the vendor states an expiry. */
  expiresAt?: number;
  /** Token-cache key of the vendor token this login uses (an HMAC, not a credential). */
  tokenKey?: string;
  sealed?: string;
  /** Non-secret facts of the login, the vendor module's own (a profile, the device and account). */
  profile?: Record<string, unknown>;
}

/** What every login mutation returns. */
export interface SessionPayloadModel {
  token: string;
  session: SessionRecord;
}

export interface SessionRecord {
  id: string;
  createdAt: number;
  expiresAt: number;
  logins: StoredLogin[];
  /** Who started it: an HMAC of the client address, so one client's flood ends only its own sessions. */
  owner?: string;
}

/**
 * Where sessions live: in this process, or in Redis for many replicas. Logins are written per
 * slot, so two logins racing on one session never overwrite each other.
 */
export interface SessionStore {
  create(record: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** False when the session no longer exists (expired or revoked). */
  putLogin(id: string, login: StoredLogin): Promise<boolean>;
  removeLogin(id: string, slot: string): Promise<void>;
  delete(id: string): Promise<void>;
  /** True when the store answers (readiness). */
  ping(): Promise<boolean>;
  /** False when the store is already known to be down, so no call is needed to tell. */
  available?(): boolean;
  close(): Promise<void>;
}

/**
 * Callers may replace a record's logins (attach, detach) but never mutate a login in place, so a
 * copy of the record and its list is enough to keep the store's own state apart.
 */
export function copy(record: SessionRecord): SessionRecord {
  return { ...record, logins: record.logins.slice() };
}

/** The session store cannot be reached: sessions fail closed. */
export class StoreUnavailableError extends SwitchboardError {
  constructor() {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, 'The session store is unavailable; try again shortly');
  }
}

const ISSUER = 'switchboard';

/** What verified tokens are remembered by (never the token itself). One-shot hash: a Hash object per request costs more than the digest. */
function tokenDigest(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** Inputs are bounded before any call; this bounds what a vendor answered, before it is kept. */
function checkSize(login: StoredLogin): void {
  if (JSON.stringify(login).length > MAX_LOGIN_BYTES) throw new UpstreamError(login.vendor, 'The vendor answered more than a session may keep');
}

/**
 * Session tokens are HS256 JWTs (jose) that carry only the session id and its expiry: nothing a
 * vendor issued. The session itself is server-side, so logout is a delete and takes effect on
 * every replica that shares the store.
 *
 * jose verifies through WebCrypto, which costs about 90 µs a token on Node 20: more than the
 * rest of a request. A token that verified once is remembered, keyed by its SHA-256 (never the
 * token itself), until it expires; a tampered token hashes differently and is verified in full.
 * Revocation is unaffected: the session is still read from the store on every request.
 */
/** How many new sessions one client may start a minute, and where that is counted (shared by replicas with Redis). */
export interface NewSessionLimit {
  perMinute: number;
  log: FailureStore;
  /** Turns a client address into the owner key (an HMAC: addresses are not kept in clear). */
  ownerOf: (client: string) => string;
}

/** Biggest login a session keeps (serialized): what vendors answer is bounded before it is stored. */
const MAX_LOGIN_BYTES = 16 * 1024;

export class SessionManager {
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly verified: LRUCache<string, { id: string; exp: number }>;

  constructor(
    signingKey: Uint8Array,
    readonly store: SessionStore,
    private readonly ttlMs: number,
    private readonly now: () => number = () => Date.now(),
    private readonly limit?: NewSessionLimit,
  ) {
    this.key = webcrypto.subtle.importKey('raw', signingKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    this.verified = new LRUCache({ max: 50_000 });
  }

  /**
   * Starts a session. With the client's address, at most `perMinute` new sessions a minute each
   * (RATE_LIMITED past that), and the session counts as that client's in the store's caps.
   */
  async create(logins: StoredLogin[] = [], client?: string): Promise<{ token: string; session: SessionRecord }> {
    logins.forEach(checkSize);
    const createdAt = this.now();
    let owner: string | undefined;
    if (client !== undefined && this.limit) {
      owner = this.limit.ownerOf(client);
      const key = `new-session:${owner}`;
      const recent = await this.limit.log.recent(key, createdAt, 60_000);
      if (recent.length >= this.limit.perMinute) {
        throw new RateLimitedError((recent[0]! + 60_000 - createdAt) / 1000, 'Too many new sessions from this client (SESSIONS_NEW_PER_CLIENT); retry later, or log in with the session you have');
      }
      await this.limit.log.add(key, createdAt, 60_000);
    }
    const session: SessionRecord = { id: randomUUID(), createdAt, expiresAt: createdAt + this.ttlMs, logins, ...(owner ? { owner } : {}) };
    await this.store.create(session);
    return { token: await this.sign(session), session };
  }

  private async sign(session: SessionRecord): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setJti(session.id)
      .setIssuedAt(Math.floor(session.createdAt / 1000))
      .setExpirationTime(Math.floor(session.expiresAt / 1000))
      .sign(await this.key);
  }

  /** The session id a remembered token names, or undefined once it has expired. */
  private unexpired(known: { id: string; exp: number }): string | undefined {
    return known.exp * 1000 > this.now() ? known.id : undefined;
  }

  /** A token not seen before (or forgotten): jose checks it, and a genuine one is remembered by its digest. */
  private async verifyAnew(token: string, digest: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        issuer: ISSUER,
        algorithms: ['HS256'],
        currentDate: new Date(this.now()),
      });
      if (typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return undefined;
      this.verified.set(digest, { id: payload.jti, exp: payload.exp });
      return payload.jti;
    } catch {
      return undefined;
    }
  }

  /**
   * The live session a token names, or undefined (bad signature, expired, revoked). A token
   * verified before goes straight to the store (no await in between: this runs on every request
   * with a session).
   */
  resolve(token: string): Promise<SessionRecord | undefined> {
    const digest = tokenDigest(token);
    const known = this.verified.get(digest);
    if (known) {
      const id = this.unexpired(known);
      return id ? this.live(id) : Promise.resolve(undefined);
    }
    return this.verifyAnew(token, digest).then((id) => (id ? this.live(id) : undefined));
  }

  private live(id: string): Promise<SessionRecord | undefined> {
    return this.store.get(id).then((session) => (session && session.expiresAt > this.now() ? session : undefined));
  }

  /**
   * Fails at once when a login could not be kept: checked before the vendor is asked, so an
   * outage of the store spends no vendor budget and no failed-login count.
   */
  assertWritable(): void {
    if (this.store.available?.() === false) throw new StoreUnavailableError();
  }

  /**
   * Adds a login to the caller's session, or starts one. Returns the token to use from now on:
   * the same token when attaching (the session and its expiry are unchanged).
   */
  async attach(current: { token: string; session: SessionRecord } | undefined, login: StoredLogin, client?: string): Promise<{ token: string; session: SessionRecord }> {
    checkSize(login);
    if (current && (await this.store.putLogin(current.session.id, login))) {
      const logins = current.session.logins.filter((l) => l.slot !== login.slot).concat(login);
      current.session.logins = logins;
      return { token: current.token, session: current.session };
    }
    return this.create([login], client);
  }

  /** Replaces a login the session already holds (e.g. an edited profile). */
  async saveLogin(session: SessionRecord, login: StoredLogin): Promise<void> {
    checkSize(login);
    await this.store.putLogin(session.id, login);
    session.logins = session.logins.filter((l) => l.slot !== login.slot).concat(login);
  }

  async detach(session: SessionRecord, slot: string): Promise<void> {
    await this.store.removeLogin(session.id, slot);
    session.logins = session.logins.filter((l) => l.slot !== slot);
  }

  async revoke(session: SessionRecord): Promise<void> {
    await this.store.delete(session.id);
  }
}
