import type { NuveqClient } from '../../../datasources/nuveq/client.js';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { parse, validate } from 'graphql';
import { buildSchema } from '../../../src/graphql/schema.js';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NuveqSimulator } from '../../../simulators/nuveq/simulator.js';
import type { PlatformSimulator } from '../../../simulators/platform/simulator.js';
import { expectNoSecrets, startGateway, TEST_SECRET, type TestGateway, vendorClient } from '../../helpers/gateway.js';
import { nuveqEnv, startNuveq } from '../../../simulators/nuveq/demo.js';
import { platformEnv, startPlatform } from '../../../simulators/platform/demo.js';

/** Sends raw bytes, for bodies fetch would not send as they are. */
function rawPost(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', (e) => (String((e as NodeJS.ErrnoException).code).startsWith('EPIPE') || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve({ status: 413, text: 'reset' }) : reject(e)));
    req.end(body);
  });
}

describe('the server', () => {
  let nuveq: NuveqSimulator;
  let platform: PlatformSimulator;
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    nuveq = await startNuveq();
    platform = await startPlatform();
    gw = await startGateway({ ...nuveqEnv(nuveq), ...platformEnv(platform), CORS_ORIGINS: 'https://app.example.com' });
    const login = await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }');
    token = login.data!.loginClient.token;
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([nuveq.stop(), platform.stop()]);
    expectNoSecrets(gw.logs.text, [TEST_SECRET, nuveq.tokenKey, platform.serviceUser.password, 'demo-ada-1', token]);
  });

  test('{ __typename } answers, /health and /ready are 200', async () => {
    expect((await gw.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
  });

  test('/metrics serves Prometheus text with upstream, token-cache and GraphQL series', async () => {
    await gw.gql('{ nuveqUser(userId: "1001") { name } }', undefined, token);
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/switchboard_upstream_requests_total\{vendor="NUVEQ",operation="user.detail",outcome="ok"\} \d+/);
    expect(text).toMatch(/switchboard_upstream_request_duration_seconds_bucket\{/);
    expect(text).toMatch(/switchboard_token_cache_events_total\{vendor="PLATFORM",event="miss"\} 1/);
    expect(text).toMatch(/switchboard_graphql_operations_total\{type="query",outcome="ok"\}/);
    expect(text).not.toContain(token);
  });

  test('a 2 MB body is refused, and the server stays healthy', async () => {
    const big = Buffer.from(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    const res = await rawPost(gw.url, big, {});
    expect(res.status).toBe(413);
    // Chunked, so no content-length to refuse it by: counted while read.
    const chunked = await rawPost(gw.url, big, { 'transfer-encoding': 'chunked' });
    expect(chunked.status).toBe(413);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
    expect((await gw.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  test('depth and alias bombs are rejected before any resolver: zero vendor calls', async () => {
    nuveq.resetLog();
    const aliases = Array.from({ length: 40 }, (_, i) => `u${i}: nuveqUser(userId: "${1001 + i}") { name }`).join(' ');
    const aliasBomb = await gw.gql(`{ ${aliases} }`, undefined, token);
    expect(aliasBomb.status).toBe(400);
    expect(aliasBomb.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(aliasBomb.errors?.[0]?.message).toMatch(/alias/i);
    const ofTypes = (n: number): string => (n === 0 ? 'name' : `ofType { ${ofTypes(n - 1)} }`);
    const depthBomb = await gw.gql(`{ __schema { types { fields { type { ${ofTypes(40)} } } } } }`, undefined, token);
    expect(depthBomb.status).toBe(400);
    expect(depthBomb.errors?.[0]?.message).toMatch(/depth limit/i);
    // The introspection an explorer sends still passes.
    const { getIntrospectionQuery } = await import('graphql');
    expect((await gw.gql(getIntrospectionQuery(), undefined, token)).errors).toBeUndefined();
    const tokens = await gw.gql(`{ ${'__typename '.repeat(2100)} }`);
    expect(tokens.status).toBe(400);
    expect(tokens.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(nuveq.requests).toBe(0);
  });

  test('the configured depth applies to every operation (GRAPHQL_MAX_DEPTH)', async () => {
    const shallow = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), GRAPHQL_MAX_DEPTH: '2' });
    try {
      nuveq.resetLog();
      const res = await shallow.gql('{ nuveqUser(userId: "1001") { department { name } } }');
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(/depth limit of 2 exceeded/i);
      expect(nuveq.requests).toBe(0);
      expect((await shallow.gql('{ nuveqUser(userId: "1001") { name } }')).data?.nuveqUser?.name).toBeTruthy();
    } finally {
      await shallow.close();
    }
  });

  test('CSRF prevention: a simple GET is refused; with a preflight header it runs; GET cannot mutate', async () => {
    const q = encodeURIComponent('{ __typename }');
    expect((await fetch(`${gw.url}/graphql?query=${q}`)).status).toBe(400);
    const ok = await fetch(`${gw.url}/graphql?query=${q}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    const m = encodeURIComponent('mutation { logout }');
    expect((await fetch(`${gw.url}/graphql?query=${m}`, { headers: { 'apollo-require-preflight': 'true' } })).status).toBe(405);
  });

  test('HTTP batching is off', async () => {
    const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]) });
    expect(res.status).toBe(400);
  });

  test('CORS answers allowed origins only', async () => {
    const pre = await fetch(`${gw.url}/graphql`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const evil = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('the explorer is served at / and at /graphql for browsers, targeting /graphql', async () => {
    for (const path of ['/', '/graphql']) {
      const res = await fetch(`${gw.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self' https://embeddable-sandbox.cdn.apollographql.com");
      const html = await res.text();
      // No inline script: the settings are data, the code comes from this origin.
      expect(html.match(/<script(?![^>]*(type="application\/json"|src="\/explorer\/assets\/))/g)).toBeNull();
      const config = JSON.parse(/<script type="application\/json" id="explorer-config">(.*?)<\/script>/.exec(html)![1]!) as { endpoint: string; document: string; headers: Record<string, string> };
      expect(config.endpoint).toBe('/graphql');
      // The starter document must run as it stands: every operation in it validates against the schema.
      const document = parse(config.document);
      expect(document.definitions.length).toBeGreaterThanOrEqual(3);
      expect(validate(buildSchema(), document)).toEqual([]);
      expect(config.document).toContain('Authorization: Bearer <token>');
      expect(config.headers).toEqual({ Authorization: 'Bearer <paste the token of a login here>' });
    }
  });

  test('a client that trickles its headers is cut off after about 10 s, and others are served meanwhile', async () => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    const started = Date.now();
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 500);
    expect((await gw.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    const at = await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(at - started).toBeGreaterThanOrEqual(9_500);
    expect(at - started).toBeLessThan(12_500);
  }, 20_000);

  test('GraphQL errors are counted by code in /metrics', async () => {
    await gw.gql('{ nuveqUser(userId: "not-a-number") { name } }', undefined, token);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/switchboard_graphql_errors_total\{code="BAD_USER_INPUT"\} [1-9]/);
    expect(text).toMatch(/switchboard_graphql_operations_total\{type="query",outcome="error"\} [1-9]/);
  });

  test('unknown paths are 404', async () => {
    expect((await fetch(`${gw.url}/nope`)).status).toBe(404);
  });

  test('logout revokes the token; the session answers null and protected queries refuse it', async () => {
    const { data } = await gw.gql('mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token session { id } } }');
    const t = data!.loginClient.token as string;
    expect((await gw.gql('{ session { id } }', undefined, t)).data?.session?.id).toBe(data!.loginClient.session.id);
    expect((await gw.gql('mutation { logout }', undefined, t)).data).toEqual({ logout: true });
    expect((await gw.gql('{ session { id } }', undefined, t)).data).toEqual({ session: null });
    nuveq.resetLog();
    const refused = await gw.gql('{ nuveqUser(userId: "1001") { name } }', undefined, t);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(nuveq.requests).toBe(0);
    expect((await gw.gql('mutation { logout }', undefined, t)).data).toEqual({ logout: false });
  });

  test('a tampered session token is refused', async () => {
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
    expect((await gw.gql('{ session { id } }', undefined, tampered)).data).toEqual({ session: null });
    const refused = await gw.gql('{ nuveqUser(userId: "1001") { name } }', undefined, tampered);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('a login sent with a session token attaches to that session; without one it starts another', async () => {
    const before = await gw.gql('{ session { id logins { vendor } } }', undefined, token);
    const again = await gw.gql('mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token session { id logins { vendor subject } } } }', undefined, token);
    expect(again.data!.loginClient.session.id).toBe(before.data!.session.id);
    expect(again.data!.loginClient.token).toBe(token);
    expect(again.data!.loginClient.session.logins).toEqual([{ vendor: 'PLATFORM', subject: 'grace@example.com' }]);
    const fresh = await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { session { id } } }');
    expect(fresh.data!.loginClient.session.id).not.toBe(before.data!.session.id);
  });

  test('a disabled vendor answers VENDOR_NOT_CONFIGURED', async () => {
    const res = await gw.gql('{ nexudusUserExists(email: "a@b.co") }');
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'VENDOR_NOT_CONFIGURED', vendor: 'NEXUDUS' });
  });
});

describe.each([
  ['fast path on', 'true'],
  ['fast path off (Apollo pipeline only)', 'false'],
])('the server in production, %s', (_name, fastPath) => {
  let nuveq: NuveqSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    nuveq = await startNuveq();
    gw = await startGateway({ ...nuveqEnv(nuveq, { NUVEQ_ALLOW_ANONYMOUS: 'true' }), NODE_ENV: 'production', GRAPHQL_FAST_PATH: fastPath });
  });
  afterAll(async () => {
    await gw.close();
    await nuveq.stop();
  });

  test('an unexpected error is masked: no message, no stack, logged server-side', async () => {
    const client = vendorClient<NuveqClient>(gw, 'nuveq');
    const original = client.fetchUser.bind(client);
    client.fetchUser = async () => {
      throw new TypeError('Cannot read properties of undefined (reading internals at /srv/app/secret.ts:42)');
    };
    try {
      const res = await gw.gql('{ nuveqUser(userId: "1001") { name } }');
      expect(res.errors).toEqual([{ message: 'Internal server error', locations: [{ line: 1, column: 3 }], path: ['nuveqUser'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
      expect(JSON.stringify(res)).not.toContain('internals');
      expect(gw.logs.text).toContain('unexpected error (masked for the client)');
    } finally {
      client.fetchUser = original;
    }
  });

  test('a keep-alive connection holds no request scope once each answer is written, whichever path answered it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const accepted: Socket[] = [];
    const onConnection = (socket: Socket) => accepted.push(socket);
    gw.gateway.server.on('connection', onConnection);
    const send = (method: string, path: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string> = { 'apollo-require-preflight': 'true' };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const req = httpRequest(`${gw.url}${path}`, { method, agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const user = JSON.stringify({ query: 'query($id: ID!) { nuveqUser(userId: $id) { userId } }', variables: { id: '1001' } });
    try {
      const statuses = [
        await send('POST', '/graphql', user), // the fast path
        await send('POST', '/graphql', JSON.stringify({ query: '{ nuveqUser(userId: "x") { userId } }' })), // a resolver's error
        await send('POST', '/graphql', JSON.stringify({ query: 'query($id: ID!) { nuveqUser(userId: $id) { userId } }', variables: { id: true } })), // Apollo: coercion
        await send('GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`), // Apollo: GET
        await send('POST', '/graphql', '{"query": '), // not JSON: answered before any scope
        await send('POST', '/graphql', JSON.stringify({ query: '{ __typename }', variables: { ids: Array.from({ length: 501 }, () => '1') } })), // too long: answered before any scope
        await send('POST', '/graphql', user),
      ];
      // A request that fails inside the gateway releases its scope too (and answers 500).
      const apollo = gw.gateway.apollo;
      const execute = apollo.executeHTTPGraphQLRequest.bind(apollo);
      apollo.executeHTTPGraphQLRequest = () => Promise.reject(new Error('Apollo failed'));
      try {
        statuses.push(await send('GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`));
      } finally {
        apollo.executeHTTPGraphQLRequest = execute;
      }
      expect(statuses).toEqual([200, 200, 400, 200, 400, 400, 200, 500]);
      expect(accepted).toHaveLength(1);
      const open = Object.getOwnPropertySymbols(accepted[0]!).find((k) => k.description === 'switchboard.openScopes')!;
      expect(open).toBeDefined();
      expect((accepted[0] as unknown as Record<symbol, Set<unknown>>)[open]!.size).toBe(0);
    } finally {
      gw.gateway.server.off('connection', onConnection);
      agent.destroy();
    }
  });

  test('no field suggestions, no introspection, no explorer', async () => {
    const typo = await gw.gql('{ nuveqUsr(userId: "1") { name } }');
    expect(typo.errors?.[0]?.message).toBe('Cannot query field "nuveqUsr" on type "Query".');
    const intro = await gw.gql('{ __schema { types { name } } }');
    expect(intro.errors?.[0]?.message).toMatch(/introspection/i);
    for (const path of ['/', '/explorer', '/explorer/assets/graphiql.0123456789ab.js']) expect((await fetch(`${gw.url}${path}`, { headers: { accept: 'text/html' } })).status).toBe(404);
  });

  test('errors of ours keep their code and message', async () => {
    const res = await gw.gql('{ nuveqUser(userId: "abc") { name } }');
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', vendor: 'NUVEQ', field: 'userId' });
    expect(res.errors?.[0]?.extensions?.stacktrace).toBeUndefined();
  });
});

describe('sessions over HTTP', () => {
  let platform: PlatformSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    platform = await startPlatform();
    gw = await startGateway({ ...platformEnv(platform), SESSION_TTL: '2s' });
  });
  afterAll(async () => {
    await gw.close();
    await platform.stop();
  });

  test('a session ends at SESSION_TTL: its token is refused afterwards', async () => {
    const { data } = await gw.gql('mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token session { expiresAt } } }');
    const t = data!.loginClient.token as string;
    const expiresAt = Date.parse(data!.loginClient.session.expiresAt as string);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(2_000);
    expect((await gw.gql('{ session { clientAccount { email } } }', undefined, t)).data).toEqual({ session: { clientAccount: { email: 'ada@example.com' } } });
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
    expect((await gw.gql('{ session { id } }', undefined, t)).data).toEqual({ session: null });
    expect((await gw.gql('mutation { updateClientAccount(input: { firstName: "Ada" }) { id } }', undefined, t)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
