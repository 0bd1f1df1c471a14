import { hash, randomUUID, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import { ErrorCode, SwitchboardError, type VendorName } from './errors.js';

export type NurevaAccountName = 'MONITOR' | 'GENERAL' | 'INTEGRATOR' | 'ADMIN';

/**
 * One vendor login held by a session. Anything needed to log in again (a password, a vendor
 * session token) is in `sealed`, encrypted with the gateway's sealing key; the rest is not secret.
 */
export interface StoredLogin {
  vendor: VendorName;
  /** A session holds one login per slot: per vendor, or per device for Nureva. */
  slot: string;
  subject: string;
  /** Epoch ms, when the vendor states an expiry. */
  expiresAt?: number;
  deviceId?: string;
  account?: NurevaAccountName;
  /** Token-cache key of the vendor token this login uses (an HMAC, not a credential). */
  tokenKey?: string;
  sealed?: string;
  /** Non-secret facts the vendor gave at login (e.g. the Platform client's profile). */
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
function copy(record: SessionRecord): SessionRecord {
  return { ...record, logins: record.logins.slice() };
}

/** The session store cannot be reached: sessions fail closed. */
export class StoreUnavailableError extends SwitchboardError {
  constructor() {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, 'The session store is unavailable; try again shortly');
  }
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions: LRUCache<string, SessionRecord>;

  constructor(
    max = 100_000,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.sessions = new LRUCache({ max, ttlAutopurge: false, ttlResolution: 0, perf: { now: () => this.now() } });
  }

  async create(record: SessionRecord): Promise<void> {
    this.sessions.set(record.id, copy(record), { ttl: Math.max(1, record.expiresAt - this.now()) });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const r = this.sessions.get(id);
    return r ? copy(r) : undefined;
  }

  async putLogin(id: string, login: StoredLogin): Promise<boolean> {
    const r = this.sessions.get(id);
    if (!r) return false;
    r.logins = r.logins.filter((l) => l.slot !== login.slot).concat({ ...login });
    return true;
  }

  async removeLogin(id: string, slot: string): Promise<void> {
    const r = this.sessions.get(id);
    if (r) r.logins = r.logins.filter((l) => l.slot !== slot);
  }

  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.sessions.clear();
  }
}

const ISSUER = 'switchboard';

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
export class SessionManager {
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly verified: LRUCache<string, { id: string; exp: number }>;

  constructor(
    signingKey: Uint8Array,
    readonly store: SessionStore,
    private readonly ttlMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.key = webcrypto.subtle.importKey('raw', signingKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    this.verified = new LRUCache({ max: 50_000 });
  }

  async create(logins: StoredLogin[] = []): Promise<{ token: string; session: SessionRecord }> {
    const createdAt = this.now();
    const session: SessionRecord = { id: randomUUID(), createdAt, expiresAt: createdAt + this.ttlMs, logins };
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

  /** The session id of a genuine, unexpired token; undefined for anything else. */
  async verify(token: string): Promise<string | undefined> {
    // One-shot hash: a Hash object per request costs more than the digest itself.
    const digest = hash('sha256', token, 'base64url');
    const known = this.verified.get(digest);
    if (known) return known.exp * 1000 > this.now() ? known.id : undefined;
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

  /** The live session a token names, or undefined (bad signature, expired, revoked). */
  async resolve(token: string): Promise<SessionRecord | undefined> {
    const id = await this.verify(token);
    if (!id) return undefined;
    const session = await this.store.get(id);
    if (!session || session.expiresAt <= this.now()) return undefined;
    return session;
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
  async attach(current: { token: string; session: SessionRecord } | undefined, login: StoredLogin): Promise<{ token: string; session: SessionRecord }> {
    if (current && (await this.store.putLogin(current.session.id, login))) {
      const logins = current.session.logins.filter((l) => l.slot !== login.slot).concat(login);
      current.session.logins = logins;
      return { token: current.token, session: current.session };
    }
    return this.create([login]);
  }

  /** Replaces a login the session already holds (e.g. an edited profile). */
  async saveLogin(session: SessionRecord, login: StoredLogin): Promise<void> {
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
