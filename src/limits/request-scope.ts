import { setMaxListeners } from 'node:events';
import { BadUserInputError, ErrorCode, SwitchboardError } from '../errors.js';

/**
 * What a vendor call knows of the GraphQL request it serves: whether the caller is still there,
 * until when it waits, and how many vendor calls it may cause. Queued work of a request that is
 * gone is dropped before it is sent, and no request can make more calls than its budget.
 */
export interface CallScope {
  /** True once the client closed its connection before the answer (cheap to read on every call). */
  readonly gone: boolean;
  /** Aborted when the client closed its connection before the answer (for waits that listen). */
  readonly signal: AbortSignal;
  /** Epoch ms after which no call of this request starts (REQUEST_TIMEOUT_MS from arrival). */
  readonly deadline: number;
  /** Counts one vendor call; throws once the request has used its budget. */
  spend(): void;
  /** Told once when the client goes (a cheaper `signal` for waits that only listen). */
  onGone(listener: (reason: Error) => void): void;
  offGone(listener: (reason: Error) => void): void;
}

/** The caller went away: its queued vendor calls are dropped. Nobody reads the answer. */
export class ClientGoneError extends SwitchboardError {
  constructor() {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, 'The request was cancelled: the client closed the connection');
  }
}

export class RequestScope implements CallScope {
  private calls = 0;
  private controller?: AbortController;
  private ended = false;
  /** Waits told when the client goes: at most one per vendor call waiting, within the call budget. */
  private watchers?: Set<(reason: Error) => void>;

  /**
   * `signal`: the caller's own, or none, and the scope makes one only when a wait asks for it
   * (most requests never wait): an AbortController per request was a visible share of a fast one.
   */
  constructor(
    private readonly external: AbortSignal | undefined,
    readonly deadline: number,
    private readonly maxCalls: number,
  ) {}

  get gone(): boolean {
    return this.ended || this.external?.aborted === true;
  }

  get signal(): AbortSignal {
    if (this.external) return this.external;
    if (!this.controller) {
      this.controller = new AbortController();
      // At most one listener per vendor call (a rate-limit wait or a retry's sleep), up to the call budget.
      setMaxListeners(this.maxCalls + 10, this.controller.signal);
      if (this.ended) this.controller.abort(new ClientGoneError());
    }
    return this.controller.signal;
  }

  onGone(listener: (reason: Error) => void): void {
    if (this.gone) return listener(this.reason());
    if (!this.watchers) {
      this.watchers = new Set();
      // A caller's own signal: one listener for the scope, however many calls wait.
      this.external?.addEventListener('abort', () => this.notify(), { once: true });
    }
    this.watchers.add(listener);
  }

  offGone(listener: (reason: Error) => void): void {
    this.watchers?.delete(listener);
  }

  /** The client went away: work not yet sent for it is dropped. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.controller?.abort(new ClientGoneError());
    this.notify();
  }

  private reason(): Error {
    return this.external?.aborted ? ((this.external.reason as Error | undefined) ?? new ClientGoneError()) : new ClientGoneError();
  }

  private notify(): void {
    const watchers = this.watchers;
    if (!watchers?.size) return;
    const reason = this.reason();
    for (const listener of [...watchers]) listener(reason);
    watchers.clear();
  }

  spend(): void {
    if (++this.calls > this.maxCalls) {
      throw new BadUserInputError(
        `This request needs more than ${this.maxCalls} vendor calls (MAX_VENDOR_CALLS_PER_REQUEST): ask for fewer items at a time`,
        undefined,
        { extensions: { limit: this.maxCalls } },
      );
    }
  }
}

const never = new AbortController().signal;
// Shared by every call made outside a client request; it never fires, so its listeners are only ever removed.
setMaxListeners(0, never);

/** A scope that never ends and never runs out (work outside any client request: start-up, benchmarks). */
export const UNBOUNDED_SCOPE: CallScope = { gone: false, signal: never, deadline: Number.POSITIVE_INFINITY, spend: () => undefined, onGone: () => undefined, offGone: () => undefined };
