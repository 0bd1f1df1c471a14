import { describe, expect, test } from '@jest/globals';
import { problems } from '../../helpers/config.js';
import { loadConfig } from '../../../src/config/load.js';
import { secretsOf } from '../../../src/app/services.js';
import { VENDORS } from '../../../src/vendors/registry.js';

/** The three Redis forms (contract section 7): one at a time, each with a password and TLS. */


describe('Redis configuration', () => {
  test('setting more than one form stops start-up with a message naming them', () => {
    expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000' })).toEqual([
      'REDIS_URL, REDIS_CLUSTER_NODES: set only one of these: one Redis server, a Cluster, or Sentinels',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: 'redis://a:1', REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_MASTER: 'm' })[0]).toMatch(/^REDIS_CLUSTER_NODES, REDIS_SENTINELS: set only one/);
  });

  test('contradictions are refused by name: TLS off with rediss://, two passwords, a password in the Sentinel list, a WAIT longer than a command', () => {
    expect(problems({ REDIS_CLUSTER_NODES: 'rediss://a:1,rediss://b:2', REDIS_TLS: 'false' })).toEqual(['REDIS_TLS: is false, but REDIS_CLUSTER_NODES says rediss://']);
    expect(problems({ REDIS_CLUSTER_NODES: 'redis://:one@a:1,redis://:two@b:2' })).toEqual(['REDIS_CLUSTER_NODES: holds different passwords: give one (in the URLs or REDIS_PASSWORD)']);
    expect(problems({ REDIS_SENTINELS: 'redis://:pw@a:26379', REDIS_SENTINEL_MASTER: 'm' })[0]).toMatch(/^REDIS_SENTINELS: holds a password: the Sentinels' is REDIS_SENTINEL_PASSWORD/);
    expect(problems({ REDIS_URL: 'redis://a:1', REDIS_WAIT_TIMEOUT_MS: '2000' })[0]).toMatch(/^REDIS_WAIT_TIMEOUT_MS/);
  });

  test('each form, read', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.5:6380' }).redis).toMatchObject({ mode: 'server', endpoint: { host: '10.0.0.5', port: 6380 }, tls: false, waitReplicas: 0, budgetGraceMs: 10_000 });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000, redis://10.0.0.2:7001' }).redis).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      waitReplicas: 1,
    });
    expect(loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', REDIS_SENTINEL_MASTER: 'mymaster' }).redis).toMatchObject({ mode: 'sentinel', master: 'mymaster', sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], waitReplicas: 1 });
  });

  test('passwords and TLS in every form: from the URL or REDIS_PASSWORD, rediss:// or REDIS_TLS', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://:s3cret@cache.example:6380' }).redis).toMatchObject({ tls: true, password: 's3cret' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://:p%40ss@a:7000,rediss://b:7001' }).redis).toMatchObject({ tls: true, password: 'p@ss' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:7000', REDIS_PASSWORD: 'pw' }).redis).toMatchObject({ tls: false, password: 'pw' });
    expect(loadConfig({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw', REDIS_TLS: 'true' }).redis).toMatchObject({
      tls: true,
      password: 'pw',
      sentinelPassword: 'spw',
    });
  });

  test('every password is a secret the logs scrub', () => {
    const secrets = secretsOf(loadConfig({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_PASSWORD: 'data-pass-123', REDIS_SENTINEL_PASSWORD: 'sentinel-pass-456' }), VENDORS);
    expect(secrets.scrub('x data-pass-123 y sentinel-pass-456')).not.toMatch(/data-pass|sentinel-pass/);
  });

  test('mistakes are named, never quoting a value', () => {
    expect(problems({ REDIS_SENTINELS: 'a:26379' })).toEqual(['REDIS_SENTINEL_MASTER: is required with REDIS_SENTINELS (the name the Sentinels know the primary by)']);
    expect(problems({ REDIS_SENTINEL_MASTER: 'm' })).toEqual(['REDIS_SENTINEL_MASTER: is only used with REDIS_SENTINELS']);
    expect(problems({ REDIS_CLUSTER_NODES: 'http://a:7000' })).toEqual(['REDIS_CLUSTER_NODES: each entry must be a redis:// or rediss:// URL such as redis://10.0.0.1:6379']);
    expect(problems({ REDIS_CLUSTER_NODES: 'redis://a:1,rediss://b:2' })).toEqual(['REDIS_CLUSTER_NODES: mixes redis:// and rediss://']);
    const differ = problems({ REDIS_URL: 'redis://:one-secret@a:1', REDIS_PASSWORD: 'two-secret' });
    expect(differ).toEqual(['REDIS_PASSWORD: differs from the password in REDIS_URL']);
    expect(problems({ REDIS_URL: 'redis://a:1', REDIS_TLS_CA: 'no/such/ca.pem' })).toEqual(['REDIS_TLS_CA: cannot be read (a PEM file of the CA that signed the Redis certificates)']);
    expect(problems({ REDIS_URL: 'redis://a:1', REDIS_WAIT_REPLICAS: 'x' })).toEqual(['REDIS_WAIT_REPLICAS: must be a whole number from 0 to 16']);
  });
});
