import type { IncomingHttpHeaders } from 'node:http';
import { RateLimitedError, SwitchboardError } from '../errors.js';
import type { SseEvent, StreamListener } from './sse.js';
import { parseRetryAfter } from './client.js';

/**
 * One upstream event stream that reopens itself for as long as someone wants it: each opening
 * first books one of the vendor's stream requests (`budget`), so no burst of reconnects can pass
 * the vendor's limit; a break waits a jittered, growing backoff; a 401 renews the token once; an
 * answer the vendor will not change its mind about (below the rights, no such stream, a login that
 * no longer works) ends it for good with the error its subscribers get.
 */
export interface ReconnectingStreamOptions {
  /** Books one stream request with the vendor's budget (a wait ends with `signal`); throws RATE_LIMITED (with retryAfter) when spent. */
  budget(signal: AbortSignal): Promise<void>;
  /** The credentials, when the stream needs any. */
  token?: {
    get(): Promise<string>;
    /** The vendor refused this token: drop it so that `get` logs in again. */
    invalidate(token: string): void;
  };
  /** Sends the stream request. */
  open(token: string | undefined, listener: StreamListener): { close(): void };
  /** The error that ends the stream for this answer, or undefined to try again later. */
  refusal(status: number): SwitchboardError | undefined;
  onOpen?(): void;
  onEvent(event: SseEvent): void;
  /** The stream broke (or could not be opened); it is being retried. */
  onDown?(): void;
  /** A new attempt after a break. */
  onRetry?(): void;
  /** It ended for good. */
  onEnd(error: SwitchboardError): void;
  /** Longest wait between attempts. */
  maxBackoffMs?: number;
}

export class ReconnectingStream {
  private closed = false;
  private failures = 0;
  private renewed = false;
  private handle?: { close(): void };
  private timer?: NodeJS.Timeout;
  private retryAfterMs?: number;
  /** Ends a wait for the budget when the stream is closed. */
  private readonly closing = new AbortController();

  constructor(private readonly options: ReconnectingStreamOptions) {
    void this.connect();
  }

  /** Ends it from our side (its last subscriber left). */
  close(): void {
    this.closed = true;
    this.closing.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.handle?.close();
  }

  /** Drops the current connection (it went quiet) and opens a new one, within the budget. */
  restart(): void {
    this.handle?.close();
  }

  private backoff(): number {
    const cap = this.options.maxBackoffMs ?? 30_000;
    const grown = Math.min(cap, 500 * 2 ** Math.min(this.failures++, 10));
    return grown * (0.5 + Math.random() / 2);
  }

  private later(ms: number): void {
    if (this.closed) return;
    this.options.onDown?.();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.options.onRetry?.();
      void this.connect();
    }, ms);
  }

  private end(error: SwitchboardError): void {
    if (this.closed) return;
    this.close();
    this.options.onEnd(error);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let token: string | undefined;
    try {
      await this.options.budget(this.closing.signal);
      token = this.options.token ? await this.options.token.get() : undefined;
    } catch (error) {
      if (this.closed) return;
      // A refused login (the password changed) is final; a spent budget or a vendor away is not.
      if (error instanceof SwitchboardError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) return this.end(error);
      return this.later(error instanceof RateLimitedError ? Math.min(60_000, error.retryAfter * 1000) : this.backoff());
    }
    if (this.closed) return;
    this.retryAfterMs = undefined;
    this.handle = this.options.open(token, this.listener(token));
  }

  private listener(token: string | undefined): StreamListener {
    return {
      onOpen: (status: number, headers: IncomingHttpHeaders) => {
        if (status === 200) return this.options.onOpen?.();
        if (status === 401 && token !== undefined && !this.renewed) {
          this.renewed = true;
          this.options.token?.invalidate(token);
          this.retryAfterMs = 0;
          return;
        }
        const refusal = this.options.refusal(status);
        if (refusal) return this.end(refusal);
        const retryAfter = parseRetryAfter(headers['retry-after']);
        // Believed within reason: a day's wait would leave subscribers with nothing and no error.
        if (retryAfter !== undefined) this.retryAfterMs = Math.min(60_000, Math.max(1000, retryAfter * 1000));
      },
      onEvent: (event: SseEvent) => {
        this.failures = 0;
        this.renewed = false;
        this.options.onEvent(event);
      },
      onEnd: () => {
        this.handle = undefined;
        if (this.closed) return;
        // A renewed token is tried at once; a vendor that named its wait gets it; else back off.
        this.later(this.retryAfterMs ?? this.backoff());
      },
    };
  }
}
