import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startDemo, type Demo } from '../../simulators/demo.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { cleanEnv, ROOT } from '../helpers/process.js';

/**
 * The SDK as a frontend gets it: the README's install block, run as written, packs the workspace and
 * installs the tarball into a project outside the repository (which cannot see the server's
 * node_modules); a client there is type-checked with `tsc --noEmit` and run against a demo gateway.
 */
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const installBlock = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('npm pack --workspace sdk'));
const sdkPackage = JSON.parse(readFileSync(resolve(ROOT, 'sdk/package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; peerDependencies: Record<string, string> };
const typescriptVersion = (JSON.parse(readFileSync(resolve(ROOT, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env, timeout: 180_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function sizeOf(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += sizeOf(path);
    else if (entry.isFile()) bytes += statSync(path).size;
  }
  return bytes;
}

describe('the SDK as a package a frontend installs', () => {
  let frontend: string;
  let demo: Demo;
  let gw: TestGateway;

  beforeAll(async () => {
    // Outside the repository: module resolution from here never reaches the server's node_modules.
    frontend = mkdtempSync(join(tmpdir(), 'switchboard-frontend-'));
    expect(relative(ROOT, frontend).startsWith('..')).toBe(true);
    for (let dir = frontend; dir !== resolve(dir, '..'); dir = resolve(dir, '..')) expect(existsSync(join(resolve(dir, '..'), 'node_modules'))).toBe(false);
    writeFileSync(join(frontend, 'package.json'), JSON.stringify({ name: 'a-frontend', private: true, type: 'module', devDependencies: { typescript: typescriptVersion } }, null, 2));
    writeFileSync(
      join(frontend, 'tsconfig.json'),
      // A browser project's settings: DOM types, no Node types, and the libraries' own types checked too.
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, skipLibCheck: false, outDir: 'out' }, include: ['client.ts'] }),
    );
    cpSync(resolve(ROOT, 'test/sdk/frontend/client.ts'), join(frontend, 'client.ts'));
    demo = await startDemo();
    gw = await startGateway(demo.env);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await demo?.stop();
    rmSync(frontend, { recursive: true, force: true });
  });

  let packed: { files: Array<{ path: string; size: number }>; size: number; unpackedSize: number; filename: string };

  test('the README install block runs as written: packs the SDK and installs it into the frontend', async () => {
    expect(installBlock).toBeDefined();
    const { code, stderr } = await run('bash', ['-euo', 'pipefail', '-c', installBlock!], ROOT, { ...cleanEnv(), FRONTEND: frontend, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' });
    expect([code, code ? stderr : '']).toEqual([0, '']);
    const installed = JSON.parse(readFileSync(join(frontend, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(installed.dependencies['@switchboard/sdk']).toMatch(/^file:switchboard-sdk-.*\.tgz$/);
    const listing = await run('npm', ['pack', '--dry-run', '--json', '--workspace', 'sdk'], ROOT);
    expect(listing.code).toBe(0);
    packed = (JSON.parse(listing.stdout) as (typeof packed)[])[0]!;
  }, 240_000);

  test('the tarball holds the built SDK, its types, README and licence, and nothing else', () => {
    const paths = packed.files.map((f) => f.path).sort();
    for (const path of paths) expect(path).toMatch(/^(dist\/([\w-]+\/)?[\w.-]+\.(js|d\.ts)|README\.md|LICENSE|package\.json)$/);
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/__generated__/graphql.js', 'dist/__generated__/graphql.d.ts', 'dist/__generated__/sdk.js', 'dist/__generated__/sdk.d.ts']));
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    console.log(`@switchboard/sdk tarball: ${paths.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked:\n${paths.join('\n')}`);
  });

  test('the installed SDK pulls only client libraries: no server package', () => {
    const modules = join(frontend, 'node_modules');
    const names = readdirSync(modules).flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((m) => `${n}/${m}`) : n.startsWith('.') ? [] : [n]));
    const withoutTypescript = names.filter((n) => n !== 'typescript');
    // What the SDK declares, and what those bring; never the gateway's own dependencies.
    expect(withoutTypescript).toEqual(expect.arrayContaining(['@switchboard/sdk', 'graphql', ...Object.keys(sdkPackage.dependencies)]));
    for (const server of ['@apollo/server', 'ioredis', 'undici', 'pino', 'prom-client', 'graphiql', 'react', 'zod', 'jose']) expect(names).not.toContain(server);
    const bytes = withoutTypescript.reduce((sum, n) => sum + sizeOf(join(modules, n)), 0);
    console.log(`installed: @switchboard/sdk and ${withoutTypescript.length - 1} dependencies (${withoutTypescript.filter((n) => n !== '@switchboard/sdk').join(', ')}), ${(bytes / 1024 / 1024).toFixed(2)} MB`);
    expect(withoutTypescript.length).toBeLessThanOrEqual(8);
  });

  test('a frontend client type-checks against the installed package with tsc --noEmit, and wrong uses fail', async () => {
    const tsc = join(frontend, 'node_modules/typescript/bin/tsc');
    const check = await run(process.execPath, [tsc, '--noEmit', '-p', '.'], frontend);
    expect([check.code, check.stdout]).toEqual([0, '']);
    // The same file with its @ts-expect-error lines made plain: each must be an error.
    const strict = readFileSync(join(frontend, 'client.ts'), 'utf8').replaceAll('// @ts-expect-error', '//');
    writeFileSync(join(frontend, 'wrong.ts'), strict);
    writeFileSync(join(frontend, 'tsconfig.wrong.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['wrong.ts'] }));
    const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], frontend);
    expect(wrong.stdout.match(/error TS\d+/g)).toEqual(['error TS2322', 'error TS2339', 'error TS18047']);
    rmSync(join(frontend, 'wrong.ts'));
    rmSync(join(frontend, 'tsconfig.wrong.json'));
  }, 120_000);

  test('and runs against a demo gateway: a login, a query, a mutation, partial data, an error code, a subscription event', async () => {
    const tsc = join(frontend, 'node_modules/typescript/bin/tsc');
    expect((await run(process.execPath, [tsc, '-p', '.'], frontend)).code).toBe(0);
    const ran = await run(process.execPath, ['--experimental-websocket', '--no-warnings', 'out/client.js', `${gw.url}/graphql`], frontend);
    expect([ran.code, ran.stderr]).toEqual([0, '']);
    expect(JSON.parse(ran.stdout)).toEqual({
      token: 'string',
      deviceName: expect.any(String),
      speakerVolume: 'number',
      partial: { name: expect.any(String), codes: ['UNAUTHENTICATED', 'UNAUTHENTICATED'] },
      anonymous: 'UNAUTHENTICATED',
      online: true,
    });
  }, 120_000);
});
