import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The bench scripts as a user runs them, built as `npm run bench` builds them: the README's results
 * are a stored run's own rendering, and `bench:paired` with its options runs through and records
 * what it ran. Built apart from dist/ (into test-output/, which git ignores), so this test neither
 * needs a build first nor disturbs one. The built scripts take the folder above their dist/ as
 * the repository (test-output/bench-build here); the gateway finds the schema by package.json.
 */

const run = promisify(execFile);
const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');
const BUILD = resolve(ROOT, 'test-output/bench-build');
const DIST = resolve(BUILD, 'dist');
let out: string;

beforeAll(async () => {
  rmSync(BUILD, { recursive: true, force: true });
  await run(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', DIST], { cwd: ROOT });
  out = mkdtempSync(resolve(tmpdir(), 'switchboard-bench-'));
}, 240_000);

afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(BUILD, { recursive: true, force: true });
});

describe('npm run bench', () => {
  it('renders the stored latest run into exactly the committed latest.md, chart.svg and latest.json, and the README shows that run', async () => {
    const dir = resolve(out, 'render');
    await run(process.execPath, [resolve(DIST, 'bench/run.js'), '--render', resolve(ROOT, 'bench/results/latest.json'), '--out', dir], { cwd: ROOT });
    for (const file of ['latest.md', 'chart.svg', 'latest.json']) {
      expect(readFileSync(resolve(dir, file), 'utf8')).toBe(readFileSync(resolve(ROOT, 'bench/results', file), 'utf8'));
    }
    // The README quotes the run's report whole (its heading aside), not figures from elsewhere.
    const report = readFileSync(resolve(dir, 'latest.md'), 'utf8').split('\n').slice(1).join('\n').trim();
    expect(report).toContain('| A ratio >= 0.75 |');
    expect(readFileSync(resolve(ROOT, 'README.md'), 'utf8')).toContain(report);
  }, 60_000);
});

describe("the README's bench commands", () => {
  /** The inline `npm run bench -- …` commands of the README, as a user would copy them. */
  const inline = [...readFileSync(resolve(ROOT, 'README.md'), 'utf8').matchAll(/`npm run bench -- ([^`]+)`/g)].map((m) => m[1]!);

  it('takes every option they name (run in render mode, so nothing is measured), and refuses one it does not know', async () => {
    expect(inline.length).toBeGreaterThan(0);
    for (const [i, command] of inline.entries()) {
      const args = command.replace(/\bNAME\b/g, 'readme').split(' ');
      const dir = resolve(out, `readme-${i}`);
      await run(process.execPath, [resolve(DIST, 'bench/run.js'), ...args, '--render', resolve(ROOT, 'bench/results/latest.json'), '--out', dir], { cwd: ROOT });
      expect(readFileSync(resolve(dir, 'latest.md'), 'utf8')).toBe(readFileSync(resolve(ROOT, 'bench/results/latest.md'), 'utf8'));
    }
    await expect(run(process.execPath, [resolve(DIST, 'bench/run.js'), '--duraton', '10', '--render', resolve(ROOT, 'bench/results/latest.json'), '--out', resolve(out, 'typo')], { cwd: ROOT })).rejects.toThrow(/unknown option "--duraton"/);
  }, 60_000);
});

describe('npm run bench:paired', () => {
  it('runs a build with flags of its own beside the gateway, every server with the run-wide flags, and records both', async () => {
    const dir = resolve(out, 'paired');
    const { stdout } = await run(
      process.execPath,
      [
        resolve(DIST, 'bench/paired.js'),
        ...['--rounds', '1', '--seconds', '1', '--connections', '5', '--label', 'smoke', '--out', dir],
        ...['--compare', `flagged=${resolve(DIST, 'src/app/main.js')} --max-semi-space-size=32`, '--node-flags', '--stack-size=2000'],
      ],
      { cwd: ROOT, timeout: 150_000 },
    );
    expect(stdout).toMatch(/written: /);
    const [file] = readdirSync(dir).filter((f) => f.endsWith('-smoke.json'));
    const result = JSON.parse(readFileSync(resolve(dir, file!), 'utf8')) as Record<string, any>;
    expect(result.machine.nodeFlags).toBe('--stack-size=2000');
    expect(result.compared).toEqual([{ name: 'flagged', main: resolve(DIST, 'src/app/main.js'), flags: ['--max-semi-space-size=32'] }]);
    expect(Object.keys(result.pairs).sort()).toEqual(['apollo-tuned', 'baseline', 'flagged', 'gateway-again']);
    for (const pair of Object.values(result.pairs) as Array<{ ratio: { median: number }; gatewayUs: number; otherUs: number }>) {
      expect(pair.ratio.median).toBeGreaterThan(0);
      expect(pair.gatewayUs).toBeGreaterThan(0);
      expect(pair.otherUs).toBeGreaterThan(0);
    }
    // A fresh --out starts the history's table before its first line.
    const history = readFileSync(resolve(dir, 'history.md'), 'utf8');
    expect(history.startsWith('# Benchmark history\n\n| when (UTC) | label |')).toBe(true);
    expect(history).toMatch(/\| smoke \*\(paired, [^,]+, servers run with --stack-size=2000\)\* \| \*CPU per A request.*flagged\/gateway /);
    // Nothing it started is left running (every process' command line, from /proc: no `ps` needed).
    const commandLines = readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        } catch {
          return ''; // gone meanwhile
        }
      });
    expect(commandLines.filter((l) => l.includes(DIST))).toEqual([]);
  }, 180_000);
});
