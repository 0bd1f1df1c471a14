import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import ts from 'typescript';
import { VENDORS } from '../../src/vendors/registry.js';
import { ROOT } from '../helpers/process.js';

/**
 * The shape the code keeps: a core that names no vendor (vendors live in their folders and the one
 * registry line), and no function too long to read in one screen. (Import cycles are checked by
 * `npm run check:cycles`, part of `npm test`.)
 */
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);

/** The core: everything but the vendor folders, the registry's one line, schema, generated code, docs, bench and tests of vendors. */
const core = files.filter(
  (f) =>
    /\.(ts|json)$/.test(f) &&
    !f.includes('__generated__') &&
    (/^src\//.test(f) || /^resolvers\//.test(f) || /^simulators\/[^/]+\.ts$/.test(f) || /^test\/helpers\//.test(f) || f === 'codegen.ts') &&
    f !== 'src/vendors/registry.ts',
);

describe('the core names no vendor', () => {
  const names = new RegExp(VENDORS.map((m) => m.key).join('|'), 'i');

  test('the registry knows the four vendors, and the core is not empty', () => {
    expect(VENDORS.map((m) => m.name)).toEqual(['NUVEQ', 'NUREVA', 'NEXUDUS', 'PLATFORM']);
    expect(core.length).toBeGreaterThan(40);
  });

  test('no core file mentions a vendor by name', () => {
    const offenders = core.flatMap((f) =>
      readFileSync(`${ROOT}/${f}`, 'utf8')
        .split('\n')
        .flatMap((line, i) => (names.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders).toEqual([]);
  });

  test('the registry file is imports and the one list', () => {
    const registry = readFileSync(`${ROOT}/src/vendors/registry.ts`, 'utf8');
    const code = registry.split('\n').filter((l) => l.trim() && !l.trim().startsWith('*') && !l.trim().startsWith('/**') && !l.startsWith('import '));
    expect(code).toEqual(['export const VENDORS: readonly VendorModule[] = [nuveq, nureva, nexudus, platform];']);
  });
});

describe('functions stay short', () => {
  /** Product code: everything shipped (the bench, generated code and tests aside). */
  const product = files.filter((f) => f.endsWith('.ts') && !f.includes('__generated__') && /^(src|datasources|resolvers|simulators|sdk|examples)\//.test(f));

  function longFunctions(file: string, max: number): string[] {
    const text = readFileSync(`${ROOT}/${file}`, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const name = (node as { name?: ts.Node }).name?.getText(source) ?? '(anonymous)';
        if (last - first + 1 > max) found.push(`${file}:${first + 1} ${name} (${last - first + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  }

  test('no product function is over 80 lines', () => {
    expect(product.length).toBeGreaterThan(50);
    expect(product.flatMap((f) => longFunctions(f, 80))).toEqual([]);
  });

  test('createGateway and loadConfig are among them', () => {
    const text = (f: string) => readFileSync(`${ROOT}/${f}`, 'utf8');
    expect(text('src/app/gateway.ts')).toContain('export async function createGateway(');
    expect(text('src/config/load.ts')).toContain('export function loadConfig(');
  });
});
