import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { packageRoot } from '../config/package.js';

/** An SDL file of the package, by its path from the package root (the same from src/ and dist/). */
export function readSdl(path: string): string {
  return readFileSync(resolve(packageRoot(), path), 'utf8');
}
