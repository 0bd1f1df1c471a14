import type { EnvReader } from './env.js';
import type { TracingConfig } from './types.js';

/**
 * The standard OTEL_* variables, read here once like every other variable (so a wrong value is a
 * start-up error by name, and tests configure tracing as they configure the rest). Tracing is on
 * when an OTLP endpoint is set and OTEL_SDK_DISABLED is not true.
 */

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** `k=v,k2=v2`, percent-decoded (the OTLP exporter's format for headers and resource attributes). */
function pairs(env: EnvReader, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of env.list(name)) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      env.problem(name, 'must be key=value pairs separated by commas');
      continue;
    }
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      env.problem(name, 'holds text that is not valid percent-encoding');
    }
  }
  return out;
}

/** The traces endpoint: the signal's own variable as given, else the generic one with /v1/traces. */
function endpoint(env: EnvReader): string | undefined {
  const own = env.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (own !== undefined) return own;
  const generic = env.url('OTEL_EXPORTER_OTLP_ENDPOINT');
  return generic === undefined ? undefined : `${generic}/v1/traces`;
}

export function readTracing(env: EnvReader): TracingConfig | undefined {
  const url = endpoint(env);
  if (url === undefined || env.bool('OTEL_SDK_DISABLED', false)) return undefined;
  const protocolName = env.given('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env.string(protocolName, 'http/protobuf');
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) env.problem(protocolName, 'must be http/protobuf or http/json (grpc is not supported)');
  const sampler = env.string('OTEL_TRACES_SAMPLER', 'parentbased_always_on');
  if (!SAMPLERS.includes(sampler)) env.problem('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}`);
  const arg = env.given('OTEL_TRACES_SAMPLER_ARG');
  const samplerArg = arg === undefined ? 1 : Number(arg);
  if (!(samplerArg >= 0 && samplerArg <= 1)) env.problem('OTEL_TRACES_SAMPLER_ARG', 'must be a number from 0 to 1');
  return {
    url,
    protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf',
    headers: { ...pairs(env, 'OTEL_EXPORTER_OTLP_HEADERS'), ...pairs(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') },
    exportTimeoutMs: env.int('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', env.int('OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, 1, 600_000), 1, 600_000),
    serviceName: env.string('OTEL_SERVICE_NAME', 'switchboard'),
    resourceAttributes: pairs(env, 'OTEL_RESOURCE_ATTRIBUTES'),
    sampler,
    samplerArg: samplerArg >= 0 && samplerArg <= 1 ? samplerArg : 1,
    batch: {
      scheduledDelayMillis: env.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 1, 3_600_000),
      maxQueueSize: env.int('OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000),
      maxExportBatchSize: env.int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000),
      exportTimeoutMillis: env.int('OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000),
    },
    propagateToVendors: env.bool('TRACE_PROPAGATE_TO_VENDORS', false),
  };
}
