import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NexudusSimulator } from '../../../simulators/nexudus/simulator.js';
import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { nexudusEnv, startNexudus } from '../../../simulators/nexudus/demo.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';
import { expectNoSecrets, startGateway, TEST_SECRET, type TestGateway } from '../../helpers/gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../helpers/otlp-receiver.js';
import type { FlatSpan } from '../../helpers/otlp-decode.js';

/**
 * Traces exported to a real OTLP/HTTP receiver (started here) in both encodings: the request's
 * server span continuing an incoming traceparent, a client span per vendor call with the
 * contract's attributes, and nothing secret anywhere in them.
 */
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const COLLECTOR_KEY = 'collector-api-key-0123456789';
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

async function post(url: string, query: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>) {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: Record<string, any>; errors?: Array<{ extensions: { code: string } }> };
}

describe.each(['http/protobuf', 'http/json'])('tracing over OTLP %s', (protocol) => {
  let receiver: OtlpReceiver;
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let nexudus: NexudusSimulator;
  let gw: TestGateway;
  const secrets: string[] = [];

  /** The spans of one trace, once `count` of them arrived. */
  async function traceOf(traceId: string, count: number): Promise<FlatSpan[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const spans = receiver.spans().filter((s) => s.traceId === traceId);
      if (spans.length >= count) return spans;
      if (Date.now() > deadline) throw new Error(`trace ${traceId}: ${spans.length} of ${count} spans: ${spans.map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const traceparent = (traceId: string) => ({ traceparent: `00-${traceId}-${PARENT}-01` });
  const newTrace = () => Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('');

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    nuveq = await startNuveq();
    platform = await startPlatform();
    nexudus = await startNexudus();
    gw = await startGateway({
      ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }),
      ...platformEnv(platform),
      ...nexudusEnv(nexudus),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${COLLECTOR_KEY}`,
      OTEL_SERVICE_NAME: 'switchboard-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    secrets.push(TEST_SECRET, COLLECTOR_KEY, nuveq.tokenKey, platform.serviceUser.password, 'demo-ada-1');
  });
  afterAll(async () => {
    await gw.close();
    const everything = JSON.stringify(receiver.exports.map((e) => e.body));
    const platformTokens = platform.log.map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, '')).filter(Boolean);
    expectNoSecrets(everything, [...secrets, ...platformTokens]);
    await receiver.close();
    await Promise.all([nuveq.stop(), platform.stop(), nexudus.stop()]);
  });

  test('a request with a traceparent: its server span continues that trace, with the operation', async () => {
    const answer = await post(gw.url, 'query OneUser($id: ID!) { nuveqUser(userId: $id) { name } }', traceparent(TRACE), { id: '1001' });
    expect(answer.errors).toBeUndefined();
    const spans = await traceOf(TRACE, 2);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server).toMatchObject({ parentSpanId: PARENT, name: 'query OneUser' });
    expect(server.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'OneUser', 'http.response.status_code': 200 });
    expect(server.attributes['graphql.document.sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(server.attributes)).not.toContain('1001');
    expect(server.resource['service.name']).toBe('switchboard-test');
    expect(receiver.exports[0]!.headers['x-api-key']).toBe(COLLECTOR_KEY);
    expect(receiver.exports[0]!.contentType).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
  });

  test('nuveqUser: a client span, child of the request’s, with the vendor call’s attributes', async () => {
    const traceId = newTrace();
    await post(gw.url, '{ nuveqUser(userId: "1002") { name } }', traceparent(traceId));
    const spans = await traceOf(traceId, 2);
    const server = spans.find((s) => s.kind === SERVER)!;
    const client = spans.find((s) => s.kind === CLIENT)!;
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.attributes).toMatchObject({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
      'switchboard.vendor': 'NUVEQ',
      'switchboard.operation': expect.any(String),
    });
    expect(client.status?.code ?? 0).not.toBe(ERROR);
  });

  test('a call that waited for the vendor budget shows the wait', async () => {
    const traceId = newTrace();
    // Nexudus allows one call per 100 ms: of three at once, the last waits about 200 ms.
    await post(gw.url, '{ a: nexudusUserExists(email: "a@example.com") b: nexudusUserExists(email: "b@example.com") c: nexudusUserExists(email: "c@example.com") }', traceparent(traceId));
    const clients = (await traceOf(traceId, 4)).filter((s) => s.kind === CLIENT);
    const waits = clients.map((s) => Number(s.attributes['switchboard.budget_wait_ms'] ?? 0)).sort((x, y) => x - y);
    expect(waits[2]).toBeGreaterThanOrEqual(120);
    expect(clients.every((s) => s.attributes['switchboard.vendor'] === 'NEXUDUS')).toBe(true);
  });

  test('a login: its own span, and the token source (login, then cache) on the call', async () => {
    const first = newTrace();
    const second = newTrace();
    const LOGIN = 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }';
    const sessionTokens = [(await post(gw.url, LOGIN, traceparent(first))).data?.loginClient.token, (await post(gw.url, LOGIN, traceparent(second))).data?.loginClient.token];
    expect(sessionTokens).toEqual([expect.any(String), expect.any(String)]);
    // The session tokens are secrets the spans must not hold (the afterAll scan), also once used.
    secrets.push(...(sessionTokens as string[]));
    expect((await post(gw.url, '{ session { __typename } }', { authorization: `Bearer ${sessionTokens[0]}`, ...traceparent(newTrace()) })).errors).toBeUndefined();
    const firstSpans = await traceOf(first, 3);
    const serviceLogin = firstSpans.find((s) => s.attributes['url.template'] === '/v1/login/password')!;
    expect(serviceLogin.attributes['switchboard.vendor']).toBe('PLATFORM');
    const call = (spans: FlatSpan[]) => spans.find((s) => s.attributes['url.template'] === '/v1/client/login')!;
    expect(call(firstSpans).attributes['switchboard.token_source']).toBe('login');
    expect(call(await traceOf(second, 2)).attributes['switchboard.token_source']).toBe('cache');
  });

  test('an error sets the status and the code, on the request and on the vendor call; the log line names the trace', async () => {
    const traceId = newTrace();
    nuveq.inject({ drop: true, times: 3 });
    const answer = await post(gw.url, '{ nuveqUser(userId: "1003") { name } }', traceparent(traceId));
    const code = answer.errors![0]!.extensions.code;
    expect(code).toBe('UPSTREAM_UNAVAILABLE');
    const spans = await traceOf(traceId, 2);
    const server = spans.find((s) => s.kind === SERVER)!;
    const client = spans.find((s) => s.kind === CLIENT)!;
    expect(server.status?.code).toBe(ERROR);
    expect(server.attributes['switchboard.error_code']).toBe(code);
    expect(client.status?.code).toBe(ERROR);
    expect(client.attributes['switchboard.error_code']).toBe(code);
    expect(Number(client.attributes['switchboard.retries'])).toBeGreaterThanOrEqual(1);
    const failure = gw.logs.entries().find((l) => l.msg === 'vendor call failed' && l.trace_id === traceId);
    expect(failure).toMatchObject({ span_id: client.spanId });
  });

  test('vendors get no traceparent by default', async () => {
    nuveq.resetLog();
    await post(gw.url, '{ nuveqUser(userId: "1004") { name } }', traceparent(newTrace()));
    expect(nuveq.log.length).toBeGreaterThan(0);
    expect(nuveq.log.every((r) => r.headers.traceparent === undefined)).toBe(true);
  });
});

describe('tracing options', () => {
  test('TRACE_PROPAGATE_TO_VENDORS=true: vendor calls carry the client span’s traceparent', async () => {
    const receiver = await startOtlpReceiver();
    const nuveq = await startNuveq();
    const gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '50', TRACE_PROPAGATE_TO_VENDORS: 'true' });
    try {
      await post(gw.url, '{ nuveqUser(userId: "1001") { name } }', { traceparent: `00-${TRACE}-${PARENT}-01` });
      const sent = nuveq.log.map((r) => String(r.headers.traceparent ?? ''));
      expect(sent[0]).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
      const spans = await receiver.waitForSpans(2);
      expect(spans.find((s) => s.kind === CLIENT)!.spanId).toBe(sent[0]!.split('-')[2]);
    } finally {
      await gw.close();
      await receiver.close();
      await nuveq.stop();
    }
  });

  test('a vendor call on a connection another request opened logs under its own trace', async () => {
    // undici calls back in the context of the request that opened the connection: each call's
    // "vendor call" line must still name its own trace and span.
    const receiver = await startOtlpReceiver();
    const nuveq = await startNuveq();
    const gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', LOG_LEVEL: 'debug' });
    try {
      const traces = ['1', '2', '3'].map((d) => d.repeat(32));
      // One after another: each reuses the keep-alive connection the first one opened.
      for (const [i, traceId] of traces.entries()) await post(gw.url, `{ nuveqUser(userId: "100${i + 1}") { name } }`, { traceparent: `00-${traceId}-${PARENT}-01` });
      const spans = await receiver.waitForSpans(6);
      for (const traceId of traces) {
        const client = spans.find((s) => s.traceId === traceId && s.kind === CLIENT)!;
        const line = gw.logs.entries().find((l) => l.msg === 'vendor call' && l.span_id === client.spanId);
        expect(line).toMatchObject({ trace_id: traceId });
      }
    } finally {
      await gw.close();
      await receiver.close();
      await nuveq.stop();
    }
  });

  test('unset: no SDK, no span, nothing sent; a wrong variable is a start-up error by name', async () => {
    const { loadConfig } = await import('../../../src/config/load.js');
    expect(loadConfig({ DEMO: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({ DEMO: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(() => loadConfig({ DEMO: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => loadConfig({ DEMO: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
    const traced = loadConfig({ DEMO: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing!;
    expect(traced).toMatchObject({ url: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/protobuf', serviceName: 'switchboard', sampler: 'parentbased_traceidratio', samplerArg: 0.25, propagateToVendors: false });
    const { startTracing } = await import('../../../src/tracing/setup.js');
    expect(await startTracing(undefined, undefined as never)).toBeUndefined();
  });

  test('a device stream behind a subscription is a span of its own, from open to close', async () => {
    const { nurevaEnv, startNureva } = await import('../../../simulators/nureva/demo.js');
    const { subscribe } = await import('../../helpers/subscriptions.js');
    const receiver = await startOtlpReceiver();
    // A password no span could hold by chance (a short one such as 'm-1' is inside 'room-1').
    const MONITOR_PASSWORD = 'monitor-pass-7Qx9';
    const room = await startNureva({ accounts: { monitor: { enabled: true, password: MONITOR_PASSWORD } }, soundLocationMs: 50 });
    const gw = await startGateway({ ...nurevaEnv([{ id: 'room-1', sim: room }]), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
    try {
      const token = (await post(gw.url, `mutation { loginNureva(deviceId: "room-1", account: MONITOR, password: "${MONITOR_PASSWORD}") { token } }`)).data!.loginNureva.token as string;
      const live = subscribe('ws', gw.url, token, 'subscription { deviceSoundLocation(deviceId: "room-1") { powerLevel } }');
      await live.nextData(5000, 0);
      await new Promise((r) => setTimeout(r, 300));
      live.close();
      const deadline = Date.now() + 5000;
      let stream: FlatSpan | undefined;
      while (!(stream = receiver.spans().find((s) => s.name === 'GET /api/v1/data')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(stream).toBeDefined();
      expect(stream!.attributes).toMatchObject({ 'switchboard.vendor': 'NUREVA', 'switchboard.operation': 'stream.data', 'http.response.status_code': 200 });
      expect(Number(stream!.attributes['switchboard.events'])).toBeGreaterThan(1);
      // No secret in any span: the password, the session token, the device's auth parameters.
      const authParameters = room.log.map((r) => String(r.headers.authorization ?? '').replace(/^Nureva /, '')).filter(Boolean);
      expect(authParameters.length).toBeGreaterThan(0);
      expectNoSecrets(JSON.stringify(receiver.exports.map((e) => e.body)), [MONITOR_PASSWORD, token, ...authParameters]);
    } finally {
      await gw.close();
      await receiver.close();
      await room.stop();
    }
  });

  test('sampling: OTEL_TRACES_SAMPLER=always_off exports nothing', async () => {
    const receiver = await startOtlpReceiver();
    const nuveq = await startNuveq();
    const gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_TRACES_SAMPLER: 'always_off' });
    try {
      for (let i = 0; i < 5; i++) await post(gw.url, '{ nuveqUser(userId: "1001") { name } }');
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.spans()).toHaveLength(0);
    } finally {
      await gw.close();
      await receiver.close();
      await nuveq.stop();
    }
  });
});
