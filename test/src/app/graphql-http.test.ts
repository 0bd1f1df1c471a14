import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { serverAudits } from 'graphql-http';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';

// Apollo's CSRF prevention blocks simple GETs: a real client sends this header, and so do the audits.
const withPreflight: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set('apollo-require-preflight', 'true');
  return fetch(input, { ...init, headers });
};

// Apollo answers 400 (not 200) to parse/validation/coercion errors with application/json: a SHOULD.
const KNOWN_SHOULD_WARNINGS = new Set(['572B', 'FDE2', '7B9B']);

describe('GraphQL over HTTP (graphql-http serverAudits)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({});
  });
  afterAll(() => gw.close());

  const audits = serverAudits({ url: () => `${gw.url}/graphql`, fetchFn: withPreflight });

  test('the audit list includes MUST audits', () => {
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(10);
  });

  for (const audit of audits) {
    test(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status === 'ok' || result.status === 'notice') return;
      if (result.status === 'warn' && KNOWN_SHOULD_WARNINGS.has(result.id)) return;
      throw new Error(`${result.status}: ${result.reason}`);
    });
  }
});
