import { describe, expect, it } from '@jest/globals';
import { commandFor, compareBuilds, DRIVER_CORE, onlyOptions, option, serverNodeFlags } from '../../bench/machine.js';

/** The bench scripts' command line: what `--compare`, `--node-flags` and the roles turn into. */

const argv = (...args: string[]) => ['node', 'bench/paired.js', ...args];

describe('compareBuilds', () => {
  it('reads each --compare as a name, a path and Node flags for that build alone', () => {
    expect(compareBuilds(argv('--rounds', '3', '--compare', 'before=../before/dist/src/app/main.js', '--compare', 'semi64=dist/src/app/main.js --max-semi-space-size=64 --no-opt'))).toEqual([
      { name: 'before', main: '../before/dist/src/app/main.js', flags: [] },
      { name: 'semi64', main: 'dist/src/app/main.js', flags: ['--max-semi-space-size=64', '--no-opt'] },
    ]);
  });

  it('keeps a path with spaces, and a name or flags holding "="', () => {
    expect(compareBuilds(argv('--compare', 'old build=/tmp/my builds/main.js --stack-size=2000'))).toEqual([{ name: 'old build', main: '/tmp/my builds/main.js', flags: ['--stack-size=2000'] }]);
  });

  it('stops the run on a value without a name or a path, instead of dropping it', () => {
    for (const bad of ['dist/src/app/main.js', '=dist/src/app/main.js', 'name=', 'name= --flag', '']) {
      expect(() => compareBuilds(argv('--compare', bad))).toThrow(/--compare wants NAME=path/);
    }
    expect(() => compareBuilds(argv('--compare'))).toThrow(/--compare wants NAME=path/);
  });

  it('is empty without --compare', () => {
    expect(compareBuilds(argv('--rounds', '3'))).toEqual([]);
  });
});

describe('onlyOptions', () => {
  const check = (...args: string[]) => onlyOptions(['rounds', 'node-flags', 'compare'], ['no-apollo'], argv(...args));

  it('takes the options the script knows, a value after each valued one (even one made of flags)', () => {
    expect(() => check('--rounds', '5', '--no-apollo', '--node-flags', '--max-semi-space-size=64', '--compare', 'x=dist/src/app/main.js --no-opt')).not.toThrow();
    expect(() => check()).not.toThrow();
  });

  it('stops the run on a misspelt option, a stray value, or a switch given a value, naming it', () => {
    expect(() => check('--round', '5')).toThrow('unknown option "--round"; this script takes --rounds, --node-flags, --compare, --no-apollo');
    expect(() => check('--rounds', '5', '7')).toThrow('unknown option "7"');
    expect(() => check('--no-apollo', 'yes')).toThrow('unknown option "yes"');
  });
});

describe('option and serverNodeFlags', () => {
  it('reads a value, or the fallback when the option is not given', () => {
    expect(option('rounds', '9', argv('--rounds', '5'))).toBe('5');
    expect(option('rounds', '9', argv('--label', 'x'))).toBe('9');
  });

  it('stops the run on an option given without its value, rather than using the fallback', () => {
    expect(() => option('out', 'bench/results', argv('--out'))).toThrow('--out needs a value');
    expect(() => option('out', 'bench/results', argv('--out', '--label', 'x'))).toThrow('--out needs a value');
    expect(() => serverNodeFlags(argv('--node-flags'))).toThrow('--node-flags needs a value');
  });

  it('splits --node-flags on spaces', () => {
    expect(serverNodeFlags(argv('--node-flags', '--max-semi-space-size=64  --no-opt'))).toEqual(['--max-semi-space-size=64', '--no-opt']);
    expect(serverNodeFlags(argv())).toEqual([]);
  });
});

describe('commandFor', () => {
  const run = argv('--node-flags', '--max-semi-space-size=64');

  it("gives a server the run's Node flags, then its own, pinned to the server's core", () => {
    expect(commandFor('server', 'dist/src/app/main.js', ['--x'], ['--stack-size=2000'], run, true)).toEqual([
      'taskset',
      ['-c', '0', process.execPath, '--max-semi-space-size=64', '--stack-size=2000', 'dist/src/app/main.js', '--x'],
    ]);
  });

  it('gives a driver (the simulators) no Node flags, on the other core', () => {
    const [cmd, args] = commandFor('driver', 'dist/bench/simulators.js', ['--latency', '0'], ['--ignored'], run, true);
    expect(cmd).toBe('taskset');
    expect(args).toEqual(['-c', DRIVER_CORE, process.execPath, 'dist/bench/simulators.js', '--latency', '0']);
  });

  it('runs node itself where there is nothing to pin with', () => {
    expect(commandFor('server', 'main.js', [], [], run, false)).toEqual([process.execPath, ['--max-semi-space-size=64', 'main.js']]);
  });
});
