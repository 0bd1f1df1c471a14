import { ClientGoneError, type CallScope } from '../limits/request-scope.js';

/**
 * Identical vendor reads in flight at the same time share one call. A key names the call and the
 * credentials it is made with (never the credentials themselves: an id or an HMAC of them), so only
 * callers who would have sent the very same request to the vendor ever share its answer. Writes,
 * logins and anything whose answer depends on more than the key must not come here.
 *
 * The first caller makes the call with its own scope (its deadline, its budget, its "client gone"
 * signal), exactly as without sharing. Each later caller is authorized by its own request before it
 * joins and counts the call against its own request's budget of vendor calls. If the first caller
 * goes away before the call is sent (its queued work is dropped), a caller still waiting makes the
 * call itself. Nothing here allocates per call beyond a map entry: no signal, no listener.
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

  run<T>(key: string, scope: CallScope | undefined, work: (scope: CallScope | undefined) => Promise<T>): Promise<T> {
    const shared = this.inflight.get(key) as Promise<T> | undefined;
    if (shared) return this.join(shared, key, scope, work);
    const call = work(scope);
    this.inflight.set(key, call);
    const done = () => {
      if (this.inflight.get(key) === call) this.inflight.delete(key);
    };
    call.then(done, done);
    return call;
  }

  private join<T>(shared: Promise<T>, key: string, scope: CallScope | undefined, work: (scope: CallScope | undefined) => Promise<T>): Promise<T> {
    if (scope) {
      if (scope.gone) return Promise.reject(new ClientGoneError());
      try {
        scope.spend();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.joined++;
    // The first caller left before its call was sent: whoever is still here asks again.
    return shared.catch((error: unknown) => {
      if (error instanceof ClientGoneError && !scope?.gone) return this.run(key, scope, work);
      throw error;
    });
  }
}
