import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/app/gateway.js';
import { VENDORS } from '../../src/vendors/registry.js';
import { demoEnvironment, startDemo, type Demo } from '../../simulators/demo.js';
import { gql, LogCollector, startGateway, TEST_SECRET, type TestGateway } from '../helpers/gateway.js';
import { echo, EchoSimulator } from './echo/index.js';

/**
 * A fifth vendor through the registry alone (test/vendors/echo/, one line: `[...VENDORS, echo]`):
 * its configuration read and validated, its secret redacted, its datasource in the context, its
 * schema and resolvers served, its User type resolved, its simulator in the demo.
 */
describe('adding a vendor: a module and one registry line', () => {
  const vendors = [...VENDORS, echo];
  let sim: EchoSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    sim = new EchoSimulator();
    await sim.start();
    gw = await startGateway({ ECHO_URL: sim.url, ECHO_API_KEY: sim.apiKey }, { vendors });
  });
  afterAll(async () => {
    await gw.close();
    await sim.stop();
  });

  test('its variables are read by its prefix and validated, each problem by name', () => {
    expect(gw.config.vendors.echo).toEqual({ url: sim.url, apiKey: sim.apiKey });
    let problems: string[] = [];
    try {
      loadConfig({ SESSION_SECRET: TEST_SECRET, ECHO_URL: 'ftp://nowhere' }, { vendors });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(['ECHO_URL: must be an http(s) URL without credentials', 'ECHO_API_KEY: is required']);
    // Any of its variables turns demo mode off, as for every vendor.
    expect(loadConfig({ SESSION_SECRET: TEST_SECRET, ECHO_URL: sim.url, ECHO_API_KEY: 'k'.repeat(12) }, { vendors }).demo).toBe(false);
  });

  test('its schema, resolvers and datasource serve queries; its records resolve as its User type', async () => {
    sim.resetLog();
    const res = await gw.gql('{ echoUser(id: "7") { __typename id vendor name ... on EchoUser { userId } } none: echoUser(id: "0") { id } }');
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ echoUser: { __typename: 'EchoUser', id: 'echo:7', vendor: 'ECHO', name: 'Echo 7', userId: '7' }, none: null });
    expect(sim.log.map((r) => r.path)).toEqual(['/users/7', '/users/0']);
    // The core's types are extended, not replaced: the other vendors and the session still serve.
    expect((await gw.gql('{ session { id } devices { id } }')).errors?.[0]?.extensions?.code).toBe('VENDOR_NOT_CONFIGURED');
  });

  test('its configured secret is redacted from every log line, whatever field carries it', () => {
    gw.gateway.services.logger.warn({ someField: `the key is ${sim.apiKey}` }, `leaked ${sim.apiKey}`);
    gw.gateway.services.logger.flush?.();
    expect(gw.logs.text).toContain('leaked [redacted]');
    expect(gw.logs.text).not.toContain(sim.apiKey);
  });

  describe('in the demo', () => {
    let demo: Demo;
    beforeAll(async () => {
      demo = await startDemo({ vendors });
    });
    afterAll(() => demo.stop());

    test('its simulator starts with the others and the demo environment points at it', async () => {
      expect(demo.sim<EchoSimulator>('echo')).toBeInstanceOf(EchoSimulator);
      expect(demo.logins).toContain('Echo users');
      const { env } = demoEnvironment({}, demo, vendors);
      expect(env.ECHO_URL).toBe(demo.sim<EchoSimulator>('echo').url);
      const config = loadConfig(env, { demoVendors: true, vendors });
      const logs = new LogCollector();
      const gateway = await createGateway({ config, vendors, logDestination: logs });
      const url = await gateway.listen(0, '127.0.0.1');
      try {
        expect((await gql(url, '{ echoUser(id: "3") { name } }')).data).toEqual({ echoUser: { name: 'Echo 3' } });
        expect(logs.text).not.toContain(demo.sim<EchoSimulator>('echo').apiKey);
      } finally {
        await gateway.close();
      }
    });
  });
});
