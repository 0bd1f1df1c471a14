import type { NurevaConfig } from '../../../datasources/nureva/config.js';
import type { NexudusConfig } from '../../../datasources/nexudus/config.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { problems } from '../../helpers/config.js';
import { parseDuration } from '../../../src/config/env.js';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import type { NuveqConfig } from '../../../datasources/nuveq/config.js';
import type { PlatformConfig } from '../../../datasources/platform/config.js';

const platformOf = (config: { vendors: Record<string, unknown> }) => config.vendors.platform as PlatformConfig | undefined;

const SECRET = 'x'.repeat(40);
const FP = Array.from({ length: 32 }, () => 'AB').join(':');


describe('configuration', () => {
  test('with no vendor variable at all, the server is in demo mode and needs no secret', () => {
    const config = loadConfig({});
    expect(config.demo).toBe(true);
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.sessionTtlMs).toBe(8 * 3600_000);
    expect(config.upstreamTimeoutMs).toBe(10_000);
    expect(config.introspection).toBe(true);
  });

  test('DEMO=false without vendors starts with every vendor disabled, and needs SESSION_SECRET', () => {
    expect(problems({ DEMO: 'false' })).toEqual(['SESSION_SECRET: is required (at least 32 characters) outside demo mode']);
    const config = loadConfig({ DEMO: 'false', SESSION_SECRET: SECRET });
    expect(config.demo).toBe(false);
    expect(config.vendors).toEqual({});
  });

  test('zero is accepted where the range starts at zero (TRUST_PROXY, NEXUDUS_MIN_INTERVAL_MS)', () => {
    const config = loadConfig({ SESSION_SECRET: SECRET, TRUST_PROXY: '0', NEXUDUS_SPACE_URL: 'http://127.0.0.1:1', NEXUDUS_MIN_INTERVAL_MS: '0' });
    expect(config.trustProxy).toBe(0);
    expect((config.vendors.nexudus as NexudusConfig | undefined)?.minIntervalMs).toBe(0);
    expect(problems({ SESSION_SECRET: SECRET, TRUST_PROXY: '-1', UPSTREAM_TIMEOUT_MS: '0', DEMO_LATENCY_MS: 'slow' })).toEqual([
      'UPSTREAM_TIMEOUT_MS: must be a whole number from 1 to 600000',
      'DEMO_LATENCY_MS: must be a whole number from 0 to 60000',
      'TRUST_PROXY: must be a whole number from 0 to 10',
    ]);
  });

  test('DEMO=true ignores vendor variables, even invalid ones; the demo passes its own', () => {
    const config = loadConfig({ DEMO: 'true', NUVEQ_API_ID: 'not-a-number', PLATFORM_SERVICE_PASSWORD: 'pw' });
    expect(config.demo).toBe(true);
    expect(config.vendors.nuveq ?? config.vendors.platform).toBeUndefined();
    const wired = loadConfig({ DEMO: 'true', NUVEQ_API_ID: '7', NUVEQ_TOKEN_KEY: 'k'.repeat(16), NUVEQ_PORT: '1', NUVEQ_URL: 'http://127.0.0.1:1/api/' }, { demoVendors: true });
    expect((wired.vendors.nuveq as NuveqConfig | undefined)?.apiId).toBe(7);
  });

  test('any vendor variable turns demo mode off and requires that vendor', () => {
    expect(problems({ NUVEQ_ALLOW_ANONYMOUS: 'true', SESSION_SECRET: SECRET })).toEqual([
      'NUVEQ_TOKEN_KEY: is required',
      'NUVEQ_API_ID: is required',
      'NUVEQ_PORT: is required (the User Detail port value from the Nuveq portal)',
    ]);
  });

  test('bad configuration lists every problem, variable by variable, and never a value', () => {
    const secretValues = {
      SESSION_SECRET: 'short-secret-value',
      NUVEQ_TOKEN_KEY: 'nuveq-key-NEVER-PRINT',
      NUVEQ_API_ID: 'not-a-number-SECRETISH',
      PLATFORM_SERVICE_PASSWORD: 'platform-pass-NEVER-PRINT',
      PLATFORM_ENV: 'moon-NEVER-PRINT',
      NEXUDUS_URL: 'ftp://user:pw-NEVER-PRINT@host',
      NUREVA_DEVICES: JSON.stringify([{ id: 'Room 1', name: 'x', url: 'http://10.0.0.9', password: 'dev-NEVER-PRINT' }]),
      UPSTREAM_TIMEOUT_MS: 'soon',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://redis-NEVER-PRINT',
    };
    let message = '';
    try {
      loadConfig(secretValues);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    const names = ['SESSION_SECRET', 'NUVEQ_API_ID', 'NUVEQ_PORT', 'PLATFORM_SERVICE_USERNAME', 'PLATFORM_ENV', 'PLATFORM_ID', 'NEXUDUS_SPACE_URL', 'NEXUDUS_URL', 'NUREVA_DEVICES[0].id', 'NUREVA_DEVICES[0]', 'UPSTREAM_TIMEOUT_MS', 'LOG_LEVEL', 'REDIS_URL'];
    for (const name of names) expect(message).toContain(`${name}:`);
    for (const value of Object.values(secretValues)) expect(message).not.toContain(value);
    expect(message).not.toContain('NEVER-PRINT');
    expect(message).not.toContain('SECRETISH');
  });

  test('Nureva devices: ids, URLs and TLS rules are checked entry by entry', () => {
    const list = problems({
      SESSION_SECRET: SECRET,
      NUREVA_DEVICES: JSON.stringify([
        { id: 'ok-1', name: 'A', url: 'https://10.0.0.1', fingerprint256: FP },
        { id: 'ok-1', name: 'Dup', url: 'https://10.0.0.2', insecureTls: true },
        { id: 'no-tls', name: 'B', url: 'https://10.0.0.3' },
        { id: 'plain', name: 'C', url: 'http://10.0.0.4' },
        { id: 'badfp', name: 'D', url: 'https://10.0.0.5', fingerprint256: 'AB:CD' },
      ]),
    });
    expect(list).toEqual([
      'NUREVA_DEVICES[1].id: duplicate device id',
      'NUREVA_DEVICES[2]: an https device needs fingerprint256, ca, or an explicit "insecureTls": true',
      'NUREVA_DEVICES[3].url: plain http:// is allowed only for loopback',
      'NUREVA_DEVICES[4].fingerprint256: fingerprint256 must be 32 colon-separated hex bytes (as Node prints it)',
    ]);
  });

  test('NUREVA_DEVICES may name a file, and a ca path is read relative to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-devices-'));
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'devices.json'), JSON.stringify([{ id: 'lab', name: 'Lab', url: 'https://10.1.1.1', ca: 'ca.pem' }, { id: 'local', name: 'Local', url: 'http://127.0.0.1:8443' }]));
    const config = loadConfig({ SESSION_SECRET: SECRET, NUREVA_DEVICES: `@${join(dir, 'devices.json')}` });
    const nureva = config.vendors.nureva as NurevaConfig | undefined;
    expect(nureva?.devices.map((d) => d.id)).toEqual(['lab', 'local']);
    expect(nureva?.devices[0]?.ca).toContain('BEGIN CERTIFICATE');
    expect(nureva?.clientId).toBe('switchboard');
  });

  test('an empty or non-PEM ca file is refused: it must never read as "nothing to verify against"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-devices-'));
    writeFileSync(join(dir, 'empty.pem'), '');
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    const devices = JSON.stringify([{ id: 'a', name: 'A', url: 'https://10.1.1.1', ca: join(dir, 'empty.pem') }, { id: 'b', name: 'B', url: 'https://10.1.1.2', ca: join(dir, 'junk.pem') }]);
    expect(problems({ SESSION_SECRET: SECRET, NUREVA_DEVICES: devices })).toEqual(['NUREVA_DEVICES[0].ca: the file holds no PEM certificate', 'NUREVA_DEVICES[1].ca: the file holds no PEM certificate']);
  });

  test('Platform base URL from PLATFORM_ID and PLATFORM_ENV, or PLATFORM_URL', () => {
    const base = { SESSION_SECRET: SECRET, PLATFORM_SERVICE_USERNAME: 'svc', PLATFORM_SERVICE_PASSWORD: 'pw' };
    expect(platformOf(loadConfig({ ...base, PLATFORM_ID: 'acme' }))?.baseUrl).toBe('https://api.staging.acme.platform.io');
    expect(platformOf(loadConfig({ ...base, PLATFORM_ID: 'acme', PLATFORM_ENV: 'production' }))?.baseUrl).toBe('https://api.acme.platform.io');
    expect(platformOf(loadConfig({ ...base, PLATFORM_URL: 'http://127.0.0.1:9999/' }))?.baseUrl).toBe('http://127.0.0.1:9999');
    expect(platformOf(loadConfig({ ...base, PLATFORM_ID: 'acme' }))?.rateLimit).toBe(300);
  });

  test('production turns introspection off unless asked for', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).introspection).toBe(true);
  });

  test('durations', () => {
    expect(parseDuration('8h')).toBe(28_800_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
