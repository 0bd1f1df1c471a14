import { describe, expect, test } from '@jest/globals';
import type { NurevaClient } from '../../../datasources/nureva/client.js';
import { nureva } from '../../../datasources/nureva/index.js';
import { answer, clientFor } from '../../helpers/vendor-client.js';

const errors = (message: string) => ({ errors: [{ message }] });

/** A device's answers, as Nureva's documents show them, and what each means to a caller. */
describe('Nureva error mapping, from recorded answers', () => {
  const { client, logs } = clientFor<NurevaClient>(nureva, { NUREVA_DEVICES: JSON.stringify([{ id: 'room-1', name: 'Room 1', url: 'http://127.0.0.1:1' }]) });
  const mapped = (res: ReturnType<typeof answer>) => {
    const error = client.errorFromResponse(res);
    return { code: error.extensions.code, field: error.extensions.field };
  };

  test.each([
    ['the documented 400 for missing client headers', answer(400, errors('RESTApi: Nureva-Client-Id is missing')), { code: 'UPSTREAM_ERROR' }],
    ['a PATCH with an unknown field', answer(400, errors('Unsupported Attributes: dynamicBoostEnabled.')), { code: 'BAD_USER_INPUT', field: 'dynamicBoostEnabled' }],
    ['a 401 with the envelope', answer(401, errors('Unauthorized')), { code: 'UNAUTHENTICATED' }],
    ['a 401 without a body', answer(401, ''), { code: 'UNAUTHENTICATED' }],
    ['a 403 below the account\'s rights', answer(403, errors('The monitor account may not do this')), { code: 'FORBIDDEN' }],
    ['a 404', answer(404, errors('Not found')), { code: 'NOT_FOUND' }],
    ['a 500', answer(500, errors('boom')), { code: 'UPSTREAM_ERROR' }],
    ['a 503', answer(503, ''), { code: 'UPSTREAM_UNAVAILABLE' }],
  ])('%s', (_name, res, expected) => {
    expect(mapped(res)).toEqual({ field: undefined, ...expected });
  });

  test('the client-header 400 is logged for the operator, naming the variables', () => {
    mapped(answer(400, errors('RESTApi: Nureva-Client-Version is missing')));
    expect(logs.text).toContain('NUREVA_CLIENT_ID');
  });
});
