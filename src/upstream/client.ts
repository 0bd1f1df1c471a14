import { AsyncResource } from 'node:async_hooks';
import { Pool, type buildConnector, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import {
  RateLimitedError,
  SwitchboardError,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type VendorName,
} from '../errors.js';
import { delay as sleep } from '../delay.js';
import type { Logger } from '../logger.js';
import type { Metrics, UpstreamSeries } from '../metrics.js';
import type { AdaptiveConcurrency, ConcurrencyGate, RateLimiter, RateRule, WaitBounds } from '../limits/rate-limiter.js';
import { ClientGoneError, type CallScope } from '../limits/request-scope.js';
import type { Clock } from '../clock.js';
import { SseHandler, type StreamListener } from './sse.js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Tracing } from '../tracing/setup.js';
import { traceStore, type TraceScope } from '../tracing/spans.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface UpstreamCall {
  /** Fixed name for metrics and logs, e.g. `user.detail`. */
  operation: string;
  method: HttpMethod;
  /** Appended to the base URL's path. */
  path: string;
  /** The path as a template, when it holds ids (`/api/sys/users/{id}/token/refresh`): what traces show. */
  route?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /**
   * Headers computed per attempt, after any rate-limit wait (tokens are taken at the last moment).
   * `note` (when the call is traced) learns where the token came from.
   */
  auth?: (note?: TokenNote) => Promise<Record<string, string>>;
  json?: unknown;
  /** A JSON body already serialized (a hot call's body built from a fixed template). */
  jsonText?: string;
  form?: Record<string, string>;
  /** Reads may be retried (throttling, 502/503/504, connection failures); writes never are. */
  read?: boolean;
  rate?: { key: string; rules: RateRule[] };
  /** Absolute deadline (epoch ms); defaults to now + the upstream timeout. */
  deadline?: number;
  /** Where the call waits its turn (e.g. one batch's share of an adaptive limit); none by default. */
  gate?: ConcurrencyGate;
  /**
   * The client request this call serves: counted against its budget of vendor calls, never sent
   * once the client is gone, and not waited for past the request's deadline. Absent for calls
   * shared by many requests (logins behind the token cache).
   */
  scope?: CallScope;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The vendor said "slow down" (its throttle status; a 503 only with Retry-After). */
  throttled?: boolean;
  /** When the call is traced: the error this answer turned out to mean, for its span. */
  failed?: (code: string) => void;
}

/** Where a call's token came from: the cache, a login it waited for, or a renewal. */
export interface TokenNote {
  tokenSource?: 'cache' | 'login' | 'refresh';
}

/** What a traced call records on its span as it goes. */
interface CallNote extends TokenNote {
  span: Span;
  retries: number;
  budgetWaitMs: number;
}

export interface UpstreamClientOptions {
  vendor: VendorName;
  baseUrl: string;
  timeoutMs: number;
  metrics: Metrics;
  logger: Logger;
  limiter?: RateLimiter;
  /** A "dynamic throttle" bound on the whole process, told of every throttle and success. */
  concurrency?: AdaptiveConcurrency;
  /** TLS settings or a connector of our own (certificate pinning). */
  connect?: buildConnector.BuildOptions | buildConnector.connector;
  connections?: number;
  maxResponseBytes?: number;
  /** Statuses this vendor uses for "slow down" (429 by default; some send 409). */
  throttleStatuses?: number[];
  maxAttempts?: number;
  /** The gateway's clock (deadlines are epoch ms on it). */
  clock?: Clock;
  /** OpenTelemetry, when it is on: a client span per call. */
  tracing?: Tracing;
}

/** A long-lived GET answered with server-sent events. */
export interface StreamCall {
  /** Fixed name for metrics and logs, e.g. `stream.heartbeat`. */
  operation: string;
  path: string;
  headers?: Record<string, string>;
  /** Cut the stream when it says nothing for this long (0: never; TCP keep-alive still notices a dead peer). */
  idleMs?: number;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim());
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}

/** Raised by a pinning connector; the request was never written. */
export class CertificateMismatchError extends Error {
  readonly code = 'SB_CERT_MISMATCH';
  constructor(message = 'certificate does not match the pinned fingerprint') {
    super(message);
    this.name = 'CertificateMismatchError';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const noop = (): void => undefined;

/** The headers of a JSON call that has none of its own. Frozen: shared by every such call. */
const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ accept: 'application/json', 'content-type': 'application/json' });

/**
 * Gathers one answer straight from undici's dispatch callbacks. `pool.request` would wrap the body
 * in a Readable stream only for us to read it whole: for small JSON answers the stream machinery
 * costs more than the rest of the call.
 *
 * It implements the callbacks undici's own request API implements (onConnect, onHeaders, onData,
 * onComplete, onError), which undici calls as they are. A handler of the newer style
 * (onRequestStart, onResponseStart...) is wrapped per call in two more objects, and every header
 * and trailer of every answer is parsed into an object for it; the answer's headers are read here
 * only when something asks for them (Retry-After, on a throttle or a 5xx to retry). undici 7's
 * types mark these callbacks deprecated; a major version that drops them needs this class back in
 * the newer style.
 */
class Collect implements Dispatcher.DispatchHandler {
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private abort?: (reason: Error) => void;
  /** The deadline timer, armed only for a call that might outlive its deadline (see `bound`). */
  private timer?: NodeJS.Timeout;
  private ended = false;

  constructor(
    private resolve: (res: UpstreamResponse) => void,
    private reject: (error: Error) => void,
    /** performance.now() by which the whole answer must be in. */
    private readonly deadline: number,
  ) {}

  onConnect(abort: (reason?: Error) => void): void {
    // The caller gave up while the connection was being made: the request is never sent.
    if (this.ended) abort(new Error('the call was given up before it was sent'));
    else this.abort = abort;
  }

  /**
   * Ends the call at its deadline however far it got. undici's own timeouts leave two gaps: a new
   * connection (TCP and TLS) is bounded by the pool's connect timeout, the vendor's full timeout,
   * which a call with less time left (a retry, a caller's deadline) must not wait out; and
   * bodyTimeout counts idle time between chunks, which a trickling body never reaches.
   */
  bound(): void {
    if (!this.ended && this.timer === undefined) this.timer = setTimeout(expire, Math.max(1, this.deadline - performance.now()), this);
  }

  expire(): void {
    if (this.ended) return;
    const error = Object.assign(new Error('no whole answer by the deadline'), { code: this.status ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT' });
    // Sent: undici aborts it and reports through onError. Still connecting: fail now.
    if (this.abort) return this.abort(error);
    this.ended = true;
    this.reject(error);
    this.release();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    // undici parses what has arrived in one go: an answer that came whole with its headers (most
    // do) has ended before this microtask runs, and needs no timer.
    if (this.timer === undefined) queueMicrotask(() => this.bound());
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    const { chunks, resolve } = this;
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    resolve(new Answer(this.status, this.rawHeaders, text));
    this.release();
  }

  onError(error: Error): void {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.reject(error);
    this.release();
  }

  /**
   * Drops the answer and the caller's callbacks once the call has ended. undici releases a
   * finished request from its connection's queue at once, but whatever still references the
   * handler after the call must not keep the answer or the promise alive into the old
   * generation, which slows every young-generation GC.
   */
  private release(): void {
    this.chunks = [];
    this.rawHeaders = [];
    this.abort = undefined;
    this.resolve = this.reject = noop;
  }
}

/** setTimeout's callback for a Collect (passed as an argument, so no closure per call). */
function expire(collect: Collect): void {
  collect.expire();
}

/**
 * An answer whose headers are turned into an object on first read (most answers are never asked).
 * The raw lines are a private field, dropped once parsed: an answer logged or serialized shows no
 * header bytes (a vendor's Set-Cookie among them).
 */
class Answer implements UpstreamResponse {
  #raw: Buffer[] | undefined;
  #parsed?: IncomingHttpHeaders;
  throttled?: boolean;
  failed?: (code: string) => void;

  constructor(
    readonly status: number,
    raw: Buffer[],
    readonly text: string,
  ) {
    this.#raw = raw;
  }

  get headers(): IncomingHttpHeaders {
    if (this.#parsed === undefined) {
      this.#parsed = headersOf(this.#raw ?? []);
      this.#raw = undefined;
    }
    return this.#parsed;
  }
}

/**
 * Raw header lines named as undici names them: lower-case names, a repeated header's values in an
 * array (Node's own IncomingMessage joins most repeats with ", " instead). No prototype, so a
 * header named `__proto__` is only a header.
 */
function headersOf(raw: readonly Buffer[]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (typeof seen === 'string') headers[name] = [seen, value];
    else seen.push(value);
  }
  return headers as IncomingHttpHeaders;
}

/**
 * The one HTTP client every vendor uses. A pool is bound to one origin taken from configuration,
 * so a vendor client cannot be steered to any other address. Redirects are never followed.
 */
export class UpstreamClient {
  readonly vendor: VendorName;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly throttle: Set<number>;
  private readonly debug: boolean;
  private readonly maxAttempts: number;
  /** Metric series per operation (a handful of fixed names), kept so a call builds no label keys. */
  private readonly seriesByOperation = new Map<string, UpstreamSeries>();

  constructor(private readonly options: UpstreamClientOptions) {
    this.vendor = options.vendor;
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 64,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // TCP and TLS get the vendor's timeout, not undici's 10 s; a connector of our own (pinning)
      // carries its own.
      connect: typeof options.connect === 'function' ? options.connect : { timeout: options.timeoutMs, ...options.connect },
      // -1: no limit, for a client of long-lived event streams (each event is bounded by its parser).
      maxResponseSize: options.maxResponseBytes ?? 2 * 1024 * 1024,
    });
    this.debug = options.logger.isLevelEnabled('debug');
    this.throttle = new Set(options.throttleStatuses ?? [429]);
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  /** Who the vendor is, where: the attributes every span of this client carries. */
  private serverAttributes(): Record<string, string | number> {
    const url = new URL(this.options.baseUrl);
    return { 'server.address': url.hostname, 'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)), 'switchboard.vendor': this.vendor };
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  private now(): number {
    return this.options.clock ? this.options.clock.now() : Date.now();
  }

  request(call: UpstreamCall): Promise<UpstreamResponse> {
    const tracing = this.options.tracing;
    const traced = tracing && traceStore.getStore();
    return traced ? this.traced(call, tracing, traced) : this.call(call);
  }

  private call(call: UpstreamCall, note?: CallNote): Promise<UpstreamResponse> {
    const scope = call.scope;
    let bounds: WaitBounds | undefined;
    if (scope) {
      if (scope.gone) return Promise.reject(new ClientGoneError());
      try {
        scope.spend();
      } catch (error) {
        return Promise.reject(error);
      }
      // The scope itself: its signal is made only if a queue actually has to wait.
      bounds = scope;
    }
    // The timeout is for the vendor's answer: time spent queued behind our own concurrency limit
    // does not count, or a large batch would time out calls it never made. The request's own
    // deadline bounds both, worked out when the call's turn comes, not when it was asked for.
    const deadline = () => Math.min(call.deadline ?? this.now() + this.options.timeoutMs, scope?.deadline ?? Number.POSITIVE_INFINITY);
    const shared = this.options.concurrency;
    // The hottest case, a JSON call with nothing of its own to add: the same steps as below, each
    // gate told by a callback when the call has ended (see `straight`).
    if (this.plain(call, note) && !(call.rate && this.options.limiter)) {
      // `straight` never throws: what can fail runs inside its promise, or in `loop`'s.
      const go = (done?: () => void) => this.straight(call, deadline(), done, note);
      // The process's slot inside the batch's, as below; a process turn that never comes gives the batch's slot back.
      const underShared = shared ? (batch?: () => void) => shared.runHeld((own) => go(batch ? () => (own(), batch()) : own), bounds, batch) : go;
      return call.gate ? call.gate.runHeld(underShared, bounds) : underShared();
    }
    const run = () => this.attempts(call, deadline(), note);
    const bounded = shared ? () => shared.run(run, bounds) : run;
    return call.gate ? call.gate.run(bounded, bounds) : bounded();
  }

  /**
   * One vendor call as a client span (a child of the request's), with what happened on the way:
   * retries, the wait for the vendor's budget, where the token came from, and how it ended. The
   * span ends just after the caller has read the answer, so the error it means is on it too.
   */
  private traced(call: UpstreamCall, tracing: Tracing, scope: TraceScope): Promise<UpstreamResponse> {
    const span = tracing.tracer.startSpan(
      `${call.method} ${call.route ?? call.path}`,
      { kind: SpanKind.CLIENT, attributes: { ...this.serverAttributes(), 'http.request.method': call.method, 'url.template': this.basePath + (call.route ?? call.path), 'switchboard.operation': call.operation } },
      scope.context,
    );
    const note: CallNote = { span, retries: 0, budgetWaitMs: 0 };
    const noted = () => {
      if (note.retries > 0) span.setAttribute('switchboard.retries', note.retries);
      if (note.budgetWaitMs >= 1) span.setAttribute('switchboard.budget_wait_ms', Math.round(note.budgetWaitMs));
      if (note.tokenSource) span.setAttribute('switchboard.token_source', note.tokenSource);
    };
    return traceStore.run({ ...scope, context: trace.setSpan(scope.context, span) }, () => this.call(call, note)).then(
      (res) => {
        noted();
        span.setAttribute('http.response.status_code', res.status);
        if (res.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
        res.failed = (code) => {
          span.setAttribute('switchboard.error_code', code);
          span.setStatus({ code: SpanStatusCode.ERROR });
        };
        setImmediate(() => span.end());
        return res;
      },
      (error: unknown) => {
        noted();
        span.setAttribute('switchboard.error_code', (error as SwitchboardError)?.code ?? 'INTERNAL_SERVER_ERROR');
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      },
    );
  }

  /**
   * The call's attempts. The first one, when there is no budget to wait for (the common case), is
   * a plain promise chain; the loop takes over from its outcome only when that is not a final
   * answer (a failure, a throttle, a 5xx to retry, a redirect).
   */
  private attempts(call: UpstreamCall, deadline: number, note?: CallNote): Promise<UpstreamResponse> {
    if ((call.rate && this.options.limiter) || call.scope?.gone) return this.loop(call, deadline, note);
    const remaining = deadline - this.now();
    if (remaining <= 0) return this.loop(call, deadline, note);
    let first: Promise<UpstreamResponse>;
    try {
      first = this.once(call, remaining, remaining < this.options.timeoutMs - 10, note);
    } catch (error) {
      first = Promise.reject(error);
    }
    return first.then(
      (res) => (this.final(call, res, 1) ? this.accepted(res) : this.loop(call, deadline, note, first)),
      () => this.loop(call, deadline, note, first),
    );
  }

  /**
   * `attempts` for a plain call, with the first attempt's outcome handled in undici's own callback:
   * when its gates let it through at once and the first answer is final, one promise per call where
   * `ConcurrencyGate.run` (twice, the batch's and the process's), `attempts` and `send` made four.
   * A first answer that is final is the call's answer; anything else goes on in `loop` exactly as
   * from `attempts`. `done` (giving the call's gate slots back) is called once the call has ended,
   * however it ends, and after `accepted`, as the general path gives its slots back after it.
   */
  private straight(call: UpstreamCall, deadline: number, done: (() => void) | undefined, note?: CallNote): Promise<UpstreamResponse> {
    const held = (rest: Promise<UpstreamResponse>): Promise<UpstreamResponse> =>
      done
        ? rest.then(
            (res) => {
              done();
              return res;
            },
            (error: unknown) => {
              done();
              throw error;
            },
          )
        : rest;
    const remaining = deadline - this.now();
    if (call.scope?.gone || remaining <= 0) return held(this.loop(call, deadline, note));
    return new Promise<UpstreamResponse>((resolve) => {
      const failed = (error: unknown) => resolve(held(this.loop(call, deadline, note, Promise.reject(error as Error))));
      try {
        this.dispatch(
          call,
          JSON_HEADERS,
          call.jsonText,
          remaining,
          remaining < this.options.timeoutMs - 10,
          (res) => {
            if (!this.final(call, res, 1)) return resolve(held(this.loop(call, deadline, note, Promise.resolve(res))));
            // Success first (it may raise the adaptive limit), then the slots, as the general path.
            let accepted: UpstreamResponse;
            try {
              accepted = this.accepted(res);
            } catch (error) {
              done?.();
              return resolve(Promise.reject(error as Error));
            }
            done?.();
            resolve(accepted);
          },
          failed,
        );
      } catch (error) {
        failed(error);
      }
    });
  }

  /** An answer the loop would return as it is, on this attempt. */
  private final(call: UpstreamCall, res: UpstreamResponse, attempt: number): boolean {
    if (res.throttled || (res.status >= 300 && res.status < 400)) return false;
    return !(call.read && attempt < this.maxAttempts && (res.status === 502 || res.status === 503 || res.status === 504));
  }

  private accepted(res: UpstreamResponse): UpstreamResponse {
    if (res.status < 400) this.options.concurrency?.succeeded();
    return res;
  }

  /** Attempts until an answer or a failure; `first`, when given, is attempt 1 already under way. */
  private async loop(call: UpstreamCall, deadline: number, note?: CallNote, first?: Promise<UpstreamResponse>): Promise<UpstreamResponse> {
    const { vendor } = this;
    const scope = call.scope;
    for (let attempt = 1; ; attempt++) {
      if (note && attempt > 1) note.retries++;
      // Attempt 1 made by `attempts`, under the same conditions as here.
      const given = attempt === 1 ? first : undefined;
      if (!given && call.rate && this.options.limiter) {
        const waited = note ? performance.now() : 0;
        await this.options.limiter.acquire(vendor, call.rate.key, call.rate.rules, deadline - this.now(), scope?.signal);
        if (note) note.budgetWaitMs += performance.now() - waited;
      }
      let remaining = 0;
      if (!given) {
        // Work not yet sent is dropped once its caller is gone.
        if (scope?.gone) throw new ClientGoneError();
        remaining = deadline - this.now();
        if (remaining <= 0) throw new UpstreamTimeoutError(vendor);
      }
      let res: UpstreamResponse;
      try {
        // Less time left than a new connection may take (a retry, a rate-limit wait, a caller's
        // deadline): the call is bounded as a whole. A first call with the full time needs no timer.
        res = await (given ?? this.once(call, remaining, remaining < this.options.timeoutMs - 10, note));
      } catch (error) {
        const retryable = call.read && attempt < this.maxAttempts && error instanceof UpstreamUnavailableError;
        const wait = backoff(attempt);
        if (retryable && this.now() + wait < deadline) {
          await sleep(wait, scope?.signal);
          continue;
        }
        throw error;
      }
      if (res.throttled) {
        this.options.concurrency?.throttled();
        const retryAfter = parseRetryAfter(res.headers['retry-after'], this.now());
        // Everyone else calling this endpoint waits too, not only this caller.
        if (retryAfter !== undefined && call.rate) this.options.limiter?.pause(call.rate.key, retryAfter * 1000);
        const wait = retryAfter !== undefined ? retryAfter * 1000 + Math.random() * 100 : backoff(attempt);
        if (call.read && attempt < this.maxAttempts && this.now() + wait < deadline) {
          await sleep(wait, scope?.signal);
          continue;
        }
        throw new RateLimitedError(Math.max(1, retryAfter ?? wait / 1000), 'The vendor is throttling requests; retry later', { vendor });
      }
      if (call.read && attempt < this.maxAttempts && (res.status === 502 || res.status === 503 || res.status === 504)) {
        const retryAfter = parseRetryAfter(res.headers['retry-after'], this.now());
        const wait = retryAfter !== undefined ? retryAfter * 1000 : backoff(attempt);
        if (this.now() + wait < deadline) {
          await sleep(wait, scope?.signal);
          continue;
        }
      }
      if (res.status >= 300 && res.status < 400) {
        throw new UpstreamError(vendor, `The vendor answered a redirect (HTTP ${res.status}), which is not followed`);
      }
      return this.accepted(res);
    }
  }

  /**
   * A "slow down" answer. A 503 counts only with a Retry-After: without one it is a vendor that is
   * down, which is retried as such and must not shrink the concurrency as if it were throttling.
   */
  private isThrottle(status: number, headers: IncomingHttpHeaders): boolean {
    if (!this.throttle.has(status)) return false;
    return status !== 503 || headers['retry-after'] !== undefined;
  }

  /**
   * A JSON call with no headers of its own (the hottest vendor call is one): it sends the one
   * shared set, which undici only reads and nothing adds to (no auth, no trace propagation).
   */
  private plain(call: UpstreamCall, note: CallNote | undefined): boolean {
    return call.jsonText !== undefined && !call.headers && !call.auth && !(note && this.options.tracing?.propagateToVendors);
  }

  private once(call: UpstreamCall, remainingMs: number, bounded: boolean, note?: CallNote): Promise<UpstreamResponse> {
    if (this.plain(call, note)) return this.send(call, JSON_HEADERS, call.jsonText, remainingMs, bounded);
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    let body: string | undefined;
    if (call.jsonText !== undefined || call.json !== undefined) {
      body = call.jsonText ?? JSON.stringify(call.json);
      headers['content-type'] = 'application/json';
    } else if (call.form !== undefined) {
      body = new URLSearchParams(call.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const traced = (all: Record<string, string>) => {
      // Off by default: vendors are third parties (TRACE_PROPAGATE_TO_VENDORS).
      if (note && this.options.tracing?.propagateToVendors) this.options.tracing.inject(traceStore.getStore()!.context, all);
      return all;
    };
    if (call.auth) return call.auth(note).then((auth) => this.send(call, traced(Object.assign(headers, auth)), body, remainingMs, bounded));
    return this.send(call, traced(headers), body, remainingMs, bounded);
  }

  /** One attempt on the wire; the answer recorded in the metrics, or the failure as a gateway error. */
  private send(call: UpstreamCall, headers: Readonly<Record<string, string>>, body: string | undefined, remainingMs: number, bounded: boolean): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolveCall, rejectCall) => this.dispatch(call, headers, body, remainingMs, bounded, resolveCall, rejectCall));
  }

  /** `send` told through callbacks: exactly one of them is called, once. */
  private dispatch(
    call: UpstreamCall,
    headers: Readonly<Record<string, string>>,
    body: string | undefined,
    remainingMs: number,
    bounded: boolean,
    resolveCall: (res: UpstreamResponse) => void,
    rejectCall: (error: Error) => void,
  ): void {
    const { vendor, options } = this;
    let path = this.basePath + call.path;
    if (path === '') path = '/';
    if (call.query) path += `?${new URLSearchParams(call.query).toString()}`;

    // undici's own per-dispatch timeouts bound the call: an AbortSignal.timeout per request costs
    // ~50 µs on Node 20, most of a fast call. Headers and body each get what remains.
    const timeout = Math.max(1, Math.ceil(remainingMs));
    // The whole vendor timeout (a first attempt) is the pool's own: undici then re-arms the
    // connection's timer instead of making a new one per call.
    const own = timeout < this.options.timeoutMs ? timeout : undefined;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    // The answer is recorded as it comes, from undici's callback: no second promise per call.
    let failed = (error: unknown) => {
      try {
        rejectCall(this.translate(error, call, seconds()));
      } catch (thrown) {
        rejectCall(thrown as Error);
      }
    };
    let answered = (res: UpstreamResponse) => {
      try {
        const status = res.status;
        // Headers are read only for a status that may mean "slow down" (they are parsed when read).
        res.throttled = this.throttle.has(status) && this.isThrottle(status, res.headers);
        const outcome = res.throttled ? 'throttled' : status < 300 ? 'ok' : status < 400 ? 'redirect' : status < 500 ? 'client_error' : 'server_error';
        this.series(call.operation).record(outcome, seconds());
        if (this.debug) options.logger.debug({ vendor, operation: call.operation, status, ms: Math.round(seconds() * 1000) }, 'vendor call');
      } catch (error) {
        return failed(error);
      }
      resolveCall(res);
    };
    // undici calls back in the context of whoever opened the connection: with tracing on, a
    // call's log lines must name its own trace and span (or none, for a call outside any
    // traced request), not that caller's.
    if (options.tracing) {
      answered = AsyncResource.bind(answered);
      failed = AsyncResource.bind(failed);
    }
    const handler = new Collect(answered, failed, started + timeout);
    try {
      this.pool.dispatch({ method: call.method, path, headers, body, headersTimeout: own, bodyTimeout: own }, handler);
    } catch (error) {
      return failed(error);
    }
    if (bounded) handler.bound();
  }

  private translate(error: unknown, call: { operation: string }, seconds: number): SwitchboardError {
    const { vendor, options } = this;
    const code = (error as { code?: string })?.code;
    const cause = (error as { cause?: { code?: string } })?.cause;
    let outcome: string;
    let mapped: SwitchboardError;
    if (error instanceof SwitchboardError) {
      return error;
    } else if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
      outcome = 'too_large';
      mapped = new UpstreamError(vendor, 'The vendor answer was too large');
    } else if (code === 'SB_CERT_MISMATCH' || cause?.code === 'SB_CERT_MISMATCH' || error instanceof CertificateMismatchError) {
      outcome = 'tls';
      mapped = new UpstreamError(vendor, 'The vendor certificate does not match the one registered; nothing was sent');
    } else if (code === 'UND_ERR_INVALID_ARG') {
      // undici refused the request before sending it (a path or header it cannot send): asking
      // again would be refused again, so this is not the retryable "could not be reached".
      outcome = 'error';
      mapped = new UpstreamError(vendor, 'The vendor call could not be made: undici refused the request; nothing was sent');
    } else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      outcome = 'timeout';
      mapped = new UpstreamTimeoutError(vendor);
    } else if (typeof code === 'string' && code.startsWith('ERR_TLS') || /certificate|self[- ]signed|SSL/i.test(String((error as Error)?.message))) {
      outcome = 'tls';
      mapped = new UpstreamError(vendor, 'The vendor certificate could not be verified; nothing was sent');
    } else if ((code && NETWORK_CODES.has(code)) || (cause?.code && NETWORK_CODES.has(cause.code))) {
      outcome = 'unavailable';
      mapped = new UpstreamUnavailableError(vendor);
    } else {
      outcome = 'error';
      mapped = new UpstreamUnavailableError(vendor, 'The vendor could not be reached');
    }
    this.series(call.operation).record(outcome, seconds);
    options.logger.warn({ vendor, operation: call.operation, outcome, errorCode: code ?? cause?.code }, 'vendor call failed');
    return mapped;
  }

  private series(operation: string): UpstreamSeries {
    let series = this.seriesByOperation.get(operation);
    if (!series) this.seriesByOperation.set(operation, (series = this.options.metrics.upstreamOf(this.vendor, operation)));
    return series;
  }

  /**
   * Opens an event stream on this client's origin. The answer's headers must come within the
   * vendor timeout; the body then has no overall limit (it is meant to last), only the idle cut and
   * the parser's per-event bound. The owner reopens it when it ends, if it still wants it.
   */
  openStream(call: StreamCall, listener: StreamListener): { close(): void } {
    const started = performance.now();
    const series = this.series(call.operation);
    let closedByUs = false;
    // Shared by many subscribers and reopened outside any request: each connection is a trace of its own.
    const span = this.options.tracing?.tracer.startSpan(`GET ${call.path}`, { kind: SpanKind.CLIENT, attributes: { ...this.serverAttributes(), 'http.request.method': 'GET', 'url.template': this.basePath + call.path, 'switchboard.operation': call.operation } }, ROOT_CONTEXT);
    let events = 0;
    const handler = new SseHandler(
      {
        onOpen: (status, headers) => {
          series.record(this.isThrottle(status, headers) ? 'throttled' : status < 300 ? 'ok' : status < 500 ? 'client_error' : 'server_error', (performance.now() - started) / 1000);
          span?.setAttribute('http.response.status_code', status);
          if (status !== 200) span?.setStatus({ code: SpanStatusCode.ERROR });
          listener.onOpen(status, headers);
        },
        onEvent: (event) => {
          events++;
          listener.onEvent(event);
        },
        onEnd: (error) => {
          // Our own close is no failure; anything else is logged (never with the request's headers).
          const failure = error && !closedByUs ? this.translate(error, call, (performance.now() - started) / 1000) : undefined;
          if (span) {
            span.setAttribute('switchboard.events', events);
            if (failure) span.setAttributes({ 'switchboard.error_code': failure.code }).setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          }
          listener.onEnd(error);
        },
      },
      call.idleMs ?? 0,
    );
    const headers = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...call.headers };
    this.pool.dispatch({ method: 'GET', path: this.basePath + call.path, headers, headersTimeout: this.options.timeoutMs, bodyTimeout: 0 }, handler);
    return {
      close: () => {
        closedByUs = true;
        handler.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

/** Full jitter: a random wait up to an exponentially growing cap. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(2000, 100 * 2 ** attempt);
}

/** Parses a vendor's JSON answer; anything else (HTML, truncated text) is UPSTREAM_ERROR. */
export function parseJson<T = unknown>(vendor: VendorName, res: UpstreamResponse): T {
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new UpstreamError(vendor, `The vendor answered something that is not JSON (HTTP ${res.status})`, { detail: res.text });
  }
}
