import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printSchema } from 'graphql';
import { packageRoot } from '../config/package.js';
import { buildSchema } from './schema.js';

/**
 * `npm run schema:print` writes the full SDL (schema.graphql) for consumers and their tools: the
 * schema as served, federation fields (`_service`, `_entities`) included;
 * with `--check` it fails when that file no longer matches schema/ (npm test runs the check).
 */
const HEADER = '# The full Switchboard schema. Generated from schema/*.graphql by `npm run schema:print`; do not edit.\n\n';

export function printFullSchema(): string {
  return HEADER + printSchema(buildSchema()) + '\n';
}

const file = resolve(packageRoot(), 'schema.graphql');
const sdl = printFullSchema();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = '';
  }
  if (current !== sdl) {
    process.stderr.write('schema.graphql is stale: run `npm run schema:print` and commit it\n');
    process.exit(1);
  }
} else {
  writeFileSync(file, sdl);
  process.stdout.write(`wrote ${file}\n`);
}
