import { describe, expect, test } from '@jest/globals';
import type { NexudusClient } from '../../../datasources/nexudus/client.js';
import { nexudus } from '../../../datasources/nexudus/index.js';
import { answer, clientFor } from '../../helpers/vendor-client.js';

/** Nexudus' answers, as its documents and public docs show them, and what each means to a caller. */
describe('Nexudus error mapping, from recorded answers', () => {
  const { client } = clientFor<NexudusClient>(nexudus, { NEXUDUS_SPACE_URL: 'http://127.0.0.1:1' });
  const mapped = (res: ReturnType<typeof answer>) => {
    const error = client.errorFromResponse(res);
    return { code: error.extensions.code, field: error.extensions.field };
  };

  test.each([
    ['a bare 401 (a stale bearer, or a missing role: the caller tells)', answer(401, ''), { code: 'UNAUTHENTICATED' }],
    ['a 401 in the failure envelope', answer(401, { Status: 401, Message: 'Access denied', WasSuccessful: false }), { code: 'FORBIDDEN' }],
    ['a 403', answer(403, ''), { code: 'FORBIDDEN' }],
    ['the failure envelope at HTTP 200, Status 500', answer(200, { Status: 500, Message: 'Object reference not set', WasSuccessful: false }), { code: 'UPSTREAM_ERROR' }],
    ['the failure envelope at HTTP 200, Status 404', answer(200, { Status: 404, Message: 'User not found.', WasSuccessful: false }), { code: 'NOT_FOUND' }],
    ['validation errors naming a property', answer(400, { Errors: [{ AttemptedValue: 'x', Message: 'Email is invalid', PropertyName: 'Email' }] }), { code: 'BAD_USER_INPUT', field: 'Email' }],
    ['a 502', answer(502, ''), { code: 'UPSTREAM_UNAVAILABLE' }],
  ])('%s', (_name, res, expected) => {
    expect(mapped(res)).toEqual({ field: undefined, ...expected });
  });
});
