/**
 * Times of events, oldest first, for counting them in a sliding window: how vendors count calls
 * (the rate limiter's bookings, the simulators' budgets) and how the login throttle counts
 * failures. One implementation, so every "at most N in any window" is counted the same way.
 * (Its twin for many replicas is the reservation script in stores/redis/.)
 */
export class SlidingLog {
  private readonly times: number[] = [];

  constructor(
    /** Keep at most this many of the latest events (the older ones can no longer decide anything). */
    private readonly keep = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.times.length;
  }

  /** Records an event at `time` (times arrive in order, or at least not before the latest). */
  add(time: number): void {
    this.times.push(time);
    if (this.times.length > this.keep) this.times.splice(0, this.times.length - this.keep);
  }

  /** Forgets the events at or before `since`. */
  prune(since: number): void {
    let i = 0;
    while (i < this.times.length && this.times[i]! <= since) i++;
    if (i > 0) this.times.splice(0, i);
  }

  /** Events after `since`. */
  countSince(since: number): number {
    let n = 0;
    for (let i = this.times.length - 1; i >= 0 && this.times[i]! > since; i--) n++;
    return n;
  }

  /** The time of the event `n` places back (1: the latest), if there are that many. */
  back(n: number): number | undefined {
    return this.times[this.times.length - n];
  }

  /**
   * The earliest time from `at` when one more event keeps at most `limit` in any `windowMs`: the
   * event `limit` places back must have left the window.
   */
  nextSlot(at: number, limit: number, windowMs: number): number {
    const blocking = this.times.length >= limit ? this.back(limit) : undefined;
    return blocking === undefined ? at : Math.max(at, blocking + windowMs);
  }

  oldest(): number | undefined {
    return this.times[0];
  }

  list(): number[] {
    return this.times.slice();
  }
}
