import { ConfigError, loadConfig } from '../../src/config/load.js';

/** The problems a configuration is refused with (fails the test if it is accepted). */
export function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}
