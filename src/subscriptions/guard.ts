import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { sendable } from './sendable.js';

type Outcome = { kind: 'next'; result: IteratorResult<ExecutionResult> } | { kind: 'stop'; error?: unknown };

/**
 * A subscription's results, as the transports send them. A source that fails (a device stream
 * refused, the session logged out) ends with one last result carrying the error, then completes:
 * graphql-ws and graphql-sse clients both take that as final (an unhandled failure would make an
 * SSE client reconnect for ever). `stop` ends it from outside with an error of our own.
 *
 * Not an async generator on purpose: a generator's `return()` waits for the `await` it is paused
 * at, so an unsubscribe while no event comes would never reach the source, and its device stream
 * would stay open. Here `return()` reaches the source at once.
 */
export class Guarded implements AsyncIterableIterator<ExecutionResult> {
  private finished = false;
  private sourceClosed = false;
  /** Set by `stop` or `return`; read by the `next` that is waiting, or by the next one. */
  private stopped?: Outcome;
  /** Wakes the `next` that is waiting. One per call, never one promise raced for ever (which would keep every result alive). */
  private wake?: (outcome: Outcome) => void;

  constructor(
    private readonly source: AsyncIterator<ExecutionResult>,
    private readonly format: (error: GraphQLError) => GraphQLFormattedError,
    private readonly onEnd: () => void,
  ) {}

  /**
   * Ends it with `error` as its last result. The source is told at once (its device stream may
   * close now), even if the client is slow to read that last result.
   */
  stop(error: unknown): void {
    this.halt({ kind: 'stop', error });
    this.closeSource();
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.finished) return { value: undefined, done: true };
    const outcome =
      this.stopped ??
      (await new Promise<Outcome>((resolve) => {
        this.wake = resolve;
        this.source.next().then(
          (result) => resolve({ kind: 'next', result }),
          (error: unknown) => resolve({ kind: 'stop', error }),
        );
      }));
    this.wake = undefined;
    if (outcome.kind === 'next' && !outcome.result.done) return outcome.result;
    if (this.finished) return { value: undefined, done: true };
    this.finish();
    if (outcome.kind === 'stop' && outcome.error !== undefined) return { value: { errors: sendable([this.formatted(outcome.error)]) }, done: false };
    return { value: undefined, done: true };
  }

  /** The subscriber left: the source is told now, and a pending `next` resolves as done. */
  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    this.halt({ kind: 'stop' });
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.stop(error);
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private halt(outcome: Outcome): void {
    this.stopped ??= outcome;
    this.wake?.(this.stopped);
  }

  private formatted(error: unknown): GraphQLFormattedError {
    const graphqlError = error instanceof GraphQLError ? error : new GraphQLError((error as Error)?.message ?? 'Internal server error', { originalError: error as Error });
    return this.format(graphqlError);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onEnd();
    this.closeSource();
  }

  private closeSource(): void {
    if (this.sourceClosed) return;
    this.sourceClosed = true;
    void Promise.resolve(this.source.return?.()).catch(() => undefined);
  }
}
