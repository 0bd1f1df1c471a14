import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import { cleanEnv, ROOT } from '../helpers/process.js';

/** A loopback port nothing listens on (taken, then given back). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('npm run example, as a user runs it', () => {
  test('with no demo running it starts its own, prints every step and exits 0', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('npm', ['run', '--silent', 'example'], { cwd: ROOT, env: { ...cleanEnv(), SWITCHBOARD_URL: `http://127.0.0.1:${port}` }, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect([code, stderr.trim()]).toEqual([0, '']);
    expect(stdout).toContain(`No demo at http://127.0.0.1:${port}: starting one in this process.`);
    const steps = stdout.split('\n').filter((l) => /^ ?\d+\. /.test(l));
    expect(steps.map((l) => Number(l.trim().split('.')[0]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const what of ['signupClient', 'loginNexudus', 'loginNureva', 'session', 'nuveqUsers', 'device room-101 audio', 'changeDeviceVolume', 'live room-101', 'impersonateNexudusUser', 'logout']) {
      expect(stdout).toContain(what);
    }
    expect(stdout).toContain('session afterwards: null');
  }, 150_000);
});
