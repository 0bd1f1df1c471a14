import { createHook } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';

/**
 * Loaded into a gateway of its own by `npm run bench` (NODE_OPTIONS=--import): counts the
 * asynchronous resources (promises, nextTick callbacks, timers, immediates) made while serving
 * HTTP requests. Unlike a timing, a count does not move with this machine's speed, so a hot-path
 * step that makes fewer shows in every run. On SIGUSR2 it writes what it counted since the last
 * signal to ASYNC_COUNT_FILE, as one JSON object, and counts afresh.
 */

const file = process.env.ASYNC_COUNT_FILE;
if (!file) throw new Error('ASYNC_COUNT_FILE names where the counts go');

let counts: Record<string, number> = {};
let requests = 0;
createHook({
  init(_id, type) {
    counts[type] = (counts[type] ?? 0) + 1;
  },
}).enable();
subscribe('http.server.request.start', () => {
  requests++;
});
process.on('SIGUSR2', () => {
  writeFileSync(file, JSON.stringify({ requests, counts }));
  counts = {};
  requests = 0;
});
