import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

let root: string | undefined;
/** The folder holding package.json and schema/, found upwards from this file (from src/ or dist/src/). */
export function packageRoot(): string {
  if (!root) {
    let dir = new URL('.', import.meta.url).pathname;
    while (!existsSync(resolve(dir, 'package.json')) && resolve(dir, '..') !== dir) dir = resolve(dir, '..');
    root = dir;
  }
  return root;
}

let pkg: { name: string; version: string } | undefined;
/** The package's own name and version (client headers a vendor asks for, the explorer page). */
export function packageInfo(): { name: string; version: string } {
  if (!pkg) {
    const parsed = JSON.parse(readFileSync(resolve(packageRoot(), 'package.json'), 'utf8')) as { name: string; version: string };
    pkg = { name: parsed.name, version: parsed.version };
  }
  return pkg;
}
