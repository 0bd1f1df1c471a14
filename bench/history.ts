import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The history's table head: `npm run bench` fills its columns, `bench:paired` writes one note across them. */
const HEAD =
  '# Benchmark history\n\n| when (UTC) | label | A req/s | A ratio | A CPU µs/req | A p99 ms gateway / proxy | B ÷ A time, one at a time | C service logins | D most in 60 s |\n|---|---|---|---|---|---|---|---|---|\n';

/** Adds a run's line to `dir`/history.md, starting the table when the file is new (a fresh `--out`). */
export function appendHistory(dir: string, line: string): void {
  const file = resolve(dir, 'history.md');
  if (!existsSync(file)) writeFileSync(file, HEAD);
  appendFileSync(file, `${line}\n`);
}
