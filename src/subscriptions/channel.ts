/**
 * One subscriber's side of a live stream: an async iterator whose buffer is bounded whatever the
 * subscriber's pace. A value stream (`latest`) keeps only the newest value not yet read (a slow
 * dashboard sees the present, not a backlog); an event stream (`queue`) keeps the newest `max`
 * and drops the oldest, counting each drop. A stalled subscriber costs one buffer, never more.
 */
export interface ChannelOptions {
  mode: 'latest' | 'queue';
  /** Events kept for a `queue` channel. */
  max?: number;
  /** Told of each event dropped for this subscriber. */
  onDrop?: () => void;
  /** Runs once when the subscriber leaves, however it ends (return, error, end). */
  onClose?: () => void;
}

export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly pending: T[] = [];
  private waiting?: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };
  private failure?: unknown;
  private done = false;
  private closed = false;
  private readonly max: number;

  constructor(private readonly options: ChannelOptions) {
    this.max = options.mode === 'latest' ? 1 : Math.max(1, options.max ?? 100);
  }

  get isClosed(): boolean {
    return this.done;
  }

  /** Hands a value to the subscriber, now if it waits, else into the bounded buffer. */
  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value, done: false });
      return;
    }
    this.pending.push(value);
    if (this.pending.length > this.max) {
      this.pending.shift();
      if (this.options.mode === 'queue') this.options.onDrop?.();
    }
  }

  /** Ends the stream for the subscriber after what it has not read yet; with an error, at once. */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    if (error !== undefined) {
      this.failure = error;
      this.pending.length = 0;
    }
    if (this.waiting) {
      const { resolve, reject } = this.waiting;
      this.waiting = undefined;
      if (error !== undefined) reject(error);
      else resolve({ value: undefined, done: true });
    }
    if (this.pending.length === 0) this.release();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.pending.length > 0) {
      const value = this.pending.shift()!;
      if (this.done && this.pending.length === 0) this.release();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      this.release();
      return Promise.reject(failure);
    }
    if (this.done) {
      this.release();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** The subscriber left (unsubscribe, closed connection). */
  return(): Promise<IteratorResult<T>> {
    this.done = true;
    this.pending.length = 0;
    this.failure = undefined;
    if (this.waiting) {
      this.waiting.resolve({ value: undefined, done: true });
      this.waiting = undefined;
    }
    this.release();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end(error);
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose?.();
  }
}
