import { describe, expect, test } from '@jest/globals';
import { createLogger, SecretRegistry } from '../../src/logger.js';
import { LogCollector } from '../helpers/gateway.js';

describe('logs', () => {
  test('secret fields are redacted wherever they sit, and registered secret values anywhere', () => {
    const secrets = new SecretRegistry();
    secrets.add('configured-api-key-123');
    const logs = new LogCollector();
    const logger = createLogger({ level: 'debug', secrets, destination: logs });
    logger.info({ password: 'p1-secret', body: { token_key: 'k1-secret', nested: { authorization: 'Bearer abc.def.ghi' } } }, 'login');
    logger.warn({ headers: { authorization: 'Nureva c2VjcmV0LXZhbHVlCg==' } }, 'call');
    logger.error(`failed with configured-api-key-123 in the message`);
    logger.info({ detail: 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghij' }, 'jwt in free text');
    const text = logs.text;
    for (const s of ['p1-secret', 'k1-secret', 'abc.def.ghi', 'c2VjcmV0LXZhbHVlCg==', 'configured-api-key-123', 'eyJzdWIiOiIxIn0']) expect(text).not.toContain(s);
    expect(text).toContain('[redacted]');
  });
});
