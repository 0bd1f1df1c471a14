import type { SessionStore } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';

/**
 * The sessions that live subscriptions run under. A session logged out (on any replica, when the
 * store is shared) or expired ends its subscriptions with UNAUTHENTICATED: each watched session is
 * looked up once a second, and its expiry ends it on time. It also caps subscriptions per session.
 */
export class SessionWatch {
  private readonly live = new Map<string, { expiresAt: number; ends: Set<(error: Error) => void> }>();
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly store: SessionStore,
    private readonly clock: Clock,
    /** Subscriptions one session may hold (SUBSCRIPTIONS_PER_SESSION). */
    private readonly perSession: number,
    private readonly intervalMs = 1000,
  ) {}

  /** Watches one subscription of a session; throws RATE_LIMITED past the cap. Returns its release. */
  add(session: { id: string; expiresAt: number }, end: (error: Error) => void): () => void {
    const entry = this.live.get(session.id) ?? { expiresAt: session.expiresAt, ends: new Set() };
    if (entry.ends.size >= this.perSession) throw this.refusal();
    entry.ends.add(end);
    this.live.set(session.id, entry);
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
    return () => {
      entry.ends.delete(end);
      if (entry.ends.size === 0 && this.live.get(session.id) === entry) this.live.delete(session.id);
      if (this.live.size === 0) this.stop();
    };
  }

  refusal(): RateLimitedError {
    return new RateLimitedError(10, `This session already holds ${this.perSession} subscriptions (SUBSCRIPTIONS_PER_SESSION)`);
  }

  /** Whether the session already holds as many subscriptions as it may. */
  full(sessionId: string): boolean {
    return (this.live.get(sessionId)?.ends.size ?? 0) >= this.perSession;
  }

  get sessions(): number {
    return this.live.size;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const now = this.clock.now();
      await Promise.all(
        [...this.live].map(async ([id, entry]) => {
          // A store that does not answer ends nothing: sessions fail closed at their next use, not here.
          const record = entry.expiresAt <= now ? undefined : await this.store.get(id).catch(() => 'unknown' as const);
          if (record !== undefined && record !== 'unknown') entry.expiresAt = record.expiresAt;
          const gone = entry.expiresAt <= now ? 'expired' : record === undefined ? 'ended' : undefined;
          if (!gone) return;
          const error = new UnauthenticatedError(gone === 'expired' ? 'The session expired' : 'The session ended (logged out)');
          for (const end of [...entry.ends]) end(error);
        }),
      );
    } finally {
      this.checking = false;
    }
  }
}
