import { diag, DiagLogLevel, ROOT_CONTEXT, trace, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config/types.js';
import type { Logger } from '../logger.js';

/**
 * OpenTelemetry, started only when an OTLP endpoint is configured: the SDK is loaded then (a
 * dynamic import), and not at all otherwise, so tracing that is off costs one `undefined` check
 * per request and per vendor call. Nothing is registered globally (no global provider, context
 * manager or propagator): contexts travel explicitly with each request's call scope, so libraries
 * that use the OpenTelemetry API themselves export nothing through ours.
 */
export interface Tracing {
  readonly tracer: Tracer;
  /** The incoming W3C trace context (`traceparent`, `tracestate`), or the root. */
  extract(headers: IncomingHttpHeaders): Context;
  /** Writes `traceparent` (and `tracestate`) for `context` into outgoing headers. */
  inject(context: Context, headers: Record<string, string>): void;
  /** Whether vendor calls carry `traceparent` (TRACE_PROPAGATE_TO_VENDORS). */
  readonly propagateToVendors: boolean;
  /** Exports what is queued, then stops; bounded, and never throws. */
  shutdown(): Promise<void>;
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Starts the SDK for `config`, or resolves undefined when tracing is off. */
export async function startTracing(config: TracingConfig | undefined, logger: Logger): Promise<Tracing | undefined> {
  if (!config) return undefined;
  // Export failures happen in the background and reach only OpenTelemetry's diagnostics: to the log.
  diag.setLogger(
    {
      error: (message) => logger.warn({ otel: true }, `tracing: ${message}`),
      warn: (message) => logger.warn({ otel: true }, `tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const [{ BasicTracerProvider, BatchSpanProcessor, AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler }, resources, { W3CTraceContextPropagator }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  const { OTLPTraceExporter } = config.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  const exporter = new OTLPTraceExporter({ url: config.url, headers: config.headers, timeoutMillis: config.exportTimeoutMs });
  const ratio = new TraceIdRatioBasedSampler(config.samplerArg);
  const root = { always_on: new AlwaysOnSampler(), always_off: new AlwaysOffSampler(), traceidratio: ratio }[config.sampler.replace(/^parentbased_/, '')] ?? new AlwaysOnSampler();
  const sampler = config.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
  const provider = new BasicTracerProvider({
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName })),
    sampler,
    spanProcessors: [new BatchSpanProcessor(exporter, config.batch)],
  });
  const propagator = new W3CTraceContextPropagator();
  return {
    tracer: provider.getTracer('switchboard'),
    extract: (headers) => propagator.extract(ROOT_CONTEXT, headers, headerGetter),
    inject: (context, headers) => propagator.inject(context, headers, { set: (carrier, key, value) => void (carrier[key] = value) }),
    propagateToVendors: config.propagateToVendors,
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([provider.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'tracing: the last spans could not be exported')), limit]);
      clearTimeout(timer);
    },
  };
}

/** trace_id and span_id of a span, for log lines that lead to their trace. */
export function traceFields(span: Span | undefined): { trace_id: string; span_id: string } | undefined {
  const context = span?.spanContext();
  return context && trace.isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : undefined;
}
