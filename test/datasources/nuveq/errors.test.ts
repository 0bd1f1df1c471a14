import { describe, expect, test } from '@jest/globals';
import type { NuveqClient } from '../../../datasources/nuveq/client.js';
import { nuveq } from '../../../datasources/nuveq/index.js';
import { answer, clientFor } from '../../helpers/vendor-client.js';

/** Nuveq's answers, as its documents and the vendor facts show them, and what each means to a caller. */
describe('Nuveq error mapping, from recorded answers', () => {
  const env = { NUVEQ_TOKEN_KEY: 'k'.repeat(20), NUVEQ_API_ID: '4242', NUVEQ_PORT: '1201', NUVEQ_URL: 'http://127.0.0.1:1/api/' };
  const { client, logs } = clientFor<NuveqClient>(nuveq, env);
  const meaning = (res: ReturnType<typeof answer>) => {
    try {
      const user = client.userOf('1001', res);
      return user === null ? 'unknown user' : 'user';
    } catch (error) {
      return (error as { extensions: { code: string } }).extensions.code;
    }
  };

  test.each([
    ['the documented User Detail answer', answer(200, { data: { email: 'a@b.c', name: 'A', staff_number: 7 } }), 'user'],
    ['an unknown user, {"error"} with 200', answer(200, { error: 'User not found.' }), 'unknown user'],
    ['an unknown user, {"error"} with 404', answer(404, { error: 'User not found.' }), 'unknown user'],
    ['an unknown user as a bare JSON string', answer(200, '"User not found."'), 'unknown user'],
    ['a wrong API key', answer(200, { error: 'Invalid API Key.' }), 'UPSTREAM_ERROR'],
    ['a wrong owner account', answer(200, { error: 'Fail to get Site' }), 'UPSTREAM_ERROR'],
    ['a wrong port', answer(400, { message: 'Invalid port.' }), 'UPSTREAM_ERROR'],
    ['an empty object', answer(200, {}), 'UPSTREAM_ERROR'],
    ['data without a User Detail field', answer(200, { data: { foo: 1 } }), 'UPSTREAM_ERROR'],
    ['HTML', answer(200, '<html>maintenance</html>'), 'UPSTREAM_ERROR'],
    ['a 500 with HTML', answer(500, '<html>oops</html>'), 'UPSTREAM_ERROR'],
    ['a 502', answer(502, ''), 'UPSTREAM_UNAVAILABLE'],
  ])('%s', (_name, res, expected) => {
    expect(meaning(res)).toBe(expected);
  });

  test("the gateway's own rejected settings are logged for the operator by variable name", () => {
    logs.lines.length = 0;
    meaning(answer(200, { error: 'Invalid API Key.' }));
    meaning(answer(200, { error: 'Fail to get Site' }));
    const variables = logs.entries().filter((l) => l.level === 50).map((l) => l.variable);
    expect(variables).toEqual(['NUVEQ_TOKEN_KEY', 'NUVEQ_API_ID']);
    expect(logs.text).not.toContain(env.NUVEQ_TOKEN_KEY);
  });
});
