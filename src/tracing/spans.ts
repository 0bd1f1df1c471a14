import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { Tracing } from './setup.js';

/**
 * Where a request's trace is while it runs. Set only when tracing is on (one AsyncLocalStorage of
 * our own, not OpenTelemetry's global context manager): vendor calls find their parent here, the
 * executors their request span, and log lines their trace and span ids.
 */
export interface TraceScope {
  /** The span vendor calls (and log lines) belong to now. */
  context: Context;
  /** The GraphQL request's server span. */
  request?: RequestSpan;
}

export const traceStore = new AsyncLocalStorage<TraceScope>();

/** trace_id / span_id of the span in scope, for the logger (only installed when tracing is on). */
export function logFields(): Record<string, string> {
  const scope = traceStore.getStore();
  const span = scope && trace.getSpanContext(scope.context);
  return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/** The server span of one GraphQL request: the executors say which operation it was and how it ended. */
export class RequestSpan {
  private failed = false;

  constructor(readonly span: Span) {}

  /** The operation, once known: its type, name and the document's hash (never its text or variables). */
  operation(type: string, name: string | undefined, document: string): void {
    this.span.updateName(name ? `${type} ${name}` : type);
    this.span.setAttributes({
      'graphql.operation.type': type,
      ...(name ? { 'graphql.operation.name': name } : {}),
      'graphql.document.sha256': createHash('sha256').update(document).digest('hex'),
    });
  }

  /** The request answered errors: the span is an error, with the first one's code. */
  errors(codes: readonly string[]): void {
    if (this.failed || codes.length === 0) return;
    this.failed = true;
    this.span.setAttribute('switchboard.error_code', codes[0]!);
    this.span.setStatus({ code: SpanStatusCode.ERROR });
  }

  end(status: number): void {
    this.span.setAttribute('http.response.status_code', status);
    if (status >= 500 && !this.failed) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

/** The request span in scope, if tracing is on. */
export function requestSpan(): RequestSpan | undefined {
  return traceStore.getStore()?.request;
}

/**
 * Runs `handle` inside a server span that continues the request's `traceparent`, ended when the
 * answer is sent (or the client leaves).
 */
export function traceRequest(tracing: Tracing, req: IncomingMessage, res: ServerResponse, handle: () => Promise<void> | void): Promise<void> | void {
  const parent = tracing.extract(req.headers);
  const span = tracing.tracer.startSpan('POST /graphql', { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': '/graphql', 'http.route': '/graphql' } }, parent);
  const request = new RequestSpan(span);
  res.once('close', () => request.end(res.statusCode));
  return traceStore.run({ context: trace.setSpan(parent, span), request }, handle);
}
