import { UpstreamTimeoutError } from '../errors.js';
import { ClientGoneError, type CallScope } from '../limits/request-scope.js';

/**
 * Identical vendor reads in flight at the same time share one call. A key names the call and the
 * credentials it is made with (never the credentials themselves: an id or an HMAC of them), so only
 * callers who would have sent the very same request to the vendor ever share its answer. Writes,
 * logins and anything whose answer depends on more than the key must not come here.
 *
 * Every caller is authorized by its own request before it comes here and counts the call against
 * its own request's budget of vendor calls. The first caller makes the call with its own deadline
 * and "client gone" signal, exactly as without sharing; if the call ends for a reason that is the
 * first caller's alone (it left before the call was sent, or its earlier deadline ran out), a caller
 * still waiting makes the call itself. Nothing here allocates a signal or a listener per call.
 *
 * Bounded by what is in flight: an entry lives from the first caller to the answer, and calls in
 * flight are bounded by each vendor's connections and queue (VENDOR_QUEUE_MAX).
 */
export class Coalescer {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Callers that joined a call already in flight, since start (for metrics and tests). */
  joined = 0;

  get size(): number {
    return this.inflight.size;
  }

  /**
   * The call for `key`: one already in flight, or `work`'s. `map`, when given, turns the answer
   * into what callers get in the same reaction that ends the entry (a read that parses its answer
   * needs no promise of its own for that); every caller, joined or first, gets the mapped value,
   * or the error `work` or `map` ended with.
   */
  run<R, T = R>(key: string, scope: CallScope | undefined, work: (scope: CallScope | undefined) => Promise<R>, map?: (value: R) => T): Promise<T> {
    return this.join(key, scope, work, map, false);
  }

  private join<R, T>(key: string, scope: CallScope | undefined, work: (scope: CallScope | undefined) => Promise<R>, map: ((value: R) => T) | undefined, spent: boolean): Promise<T> {
    const shared = this.inflight.get(key) as Promise<T> | undefined;
    if (scope) {
      if (scope.gone) return Promise.reject(new ClientGoneError());
      if (!spent) {
        try {
          scope.spend();
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    if (shared) {
      this.joined++;
      return shared.catch((error: unknown) => {
        // What ended the call may be the first caller's alone: it left before the call was sent,
        // or its deadline (earlier than this caller's) ran out. A caller still here asks again.
        if ((error instanceof ClientGoneError || error instanceof UpstreamTimeoutError) && !scope?.gone) return this.join(key, scope, work, map, true);
        throw error;
      });
    }
    // Budgets are spent by each caller as it comes (above), never again inside the call, so the
    // first caller's budget cannot fail a call others share.
    let started: Promise<R>;
    try {
      started = work(scope ? new SharedScope(scope) : undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    // The entry ends in the reaction that settles the call (no second reaction just for that).
    const call: Promise<T> = started.then(
      (value) => {
        this.done(key, call);
        return map ? map(value) : (value as unknown as T);
      },
      (error: unknown) => {
        this.done(key, call);
        throw error;
      },
    );
    this.inflight.set(key, call);
    return call;
  }

  private done(key: string, call: Promise<unknown>): void {
    if (this.inflight.get(key) === call) this.inflight.delete(key);
  }

  /** Calls in flight that a write has made stale: callers from now on make a new one. */
  forget(match: (key: string) => boolean): void {
    for (const key of this.inflight.keys()) if (match(key)) this.inflight.delete(key);
  }
}

/** The first caller's scope, with its budget already spent for this call. */
class SharedScope implements CallScope {
  constructor(private readonly first: CallScope) {}

  onGone(listener: (reason: Error) => void): void {
    this.first.onGone(listener);
  }

  offGone(listener: (reason: Error) => void): void {
    this.first.offGone(listener);
  }

  get gone(): boolean {
    return this.first.gone;
  }

  get signal(): AbortSignal {
    return this.first.signal;
  }

  get deadline(): number {
    return this.first.deadline;
  }

  spend(): void {}
}
