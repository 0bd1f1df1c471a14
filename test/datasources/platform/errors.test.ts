import { describe, expect, test } from '@jest/globals';
import type { PlatformClient } from '../../../datasources/platform/client.js';
import { platform } from '../../../datasources/platform/index.js';
import { answer, clientFor } from '../../helpers/vendor-client.js';

const envelope = (code: string, extra: Record<string, unknown> = {}) => ({ errors: [{ id: 'e1', title: 'T', code, ...extra }] });

/** Platform's error envelope, as its documents show it, and what each code means to a caller. */
describe('Platform error mapping, from recorded answers', () => {
  const { client } = clientFor<PlatformClient>(platform, { PLATFORM_URL: 'http://127.0.0.1:1', PLATFORM_SERVICE_USERNAME: 'svc', PLATFORM_SERVICE_PASSWORD: 'pw-123456' });
  const mapped = (res: ReturnType<typeof answer>) => {
    const error = client.errorFromResponse(res);
    return { code: error.extensions.code, field: error.extensions.field };
  };

  test.each([
    ['errors.login.failed', answer(401, envelope('errors.login.failed')), { code: 'UNAUTHENTICATED' }],
    ['errors.auth.invalid', answer(401, envelope('errors.auth.invalid')), { code: 'UNAUTHENTICATED' }],
    ['errors.forbidden', answer(403, envelope('errors.forbidden')), { code: 'FORBIDDEN' }],
    ['errors.not-found', answer(404, envelope('errors.not-found')), { code: 'NOT_FOUND' }],
    ['errors.conflict.id', answer(409, envelope('errors.conflict.id')), { code: 'CONFLICT' }],
    ['a field value, by JSON pointer', answer(400, envelope('errors.validation.field.value', { source: { pointer: '/name/first_name' } })), { code: 'BAD_USER_INPUT', field: 'firstName' }],
    ['a field type, by parameter', answer(400, envelope('errors.validation.field.type', { source: { parameter: 'phone_number' } })), { code: 'BAD_USER_INPUT', field: 'phoneNumber' }],
    ['an unknown code with status "403" as a string', answer(400, envelope('errors.account.blocked', { status: '403' })), { code: 'FORBIDDEN' }],
    ['a 429', answer(429, envelope('errors.rate-limit')), { code: 'RATE_LIMITED' }],
    ['a 500 without an envelope', answer(500, 'oops'), { code: 'UPSTREAM_ERROR' }],
    ['a 503', answer(503, ''), { code: 'UPSTREAM_UNAVAILABLE' }],
  ])('%s', (_name, res, expected) => {
    expect(mapped(res)).toEqual({ field: undefined, ...expected });
  });

  test('only a validation message carries the vendor\'s words', () => {
    expect(client.errorFromResponse(answer(400, envelope('errors.validation.field.value', { detail: 'Too long', source: { pointer: '/email' } }))).message).toBe('email: Too long');
    expect(client.errorFromResponse(answer(403, envelope('errors.forbidden', { detail: 'internal note' }))).message).not.toContain('internal note');
  });
});
