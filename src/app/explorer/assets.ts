import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { packageRoot } from '../../config/package.js';

/**
 * The explorer's files, served by the gateway itself so that it works with no network: GraphiQL 4
 * (its prebuilt UMD bundle, CodeMirror 5: no web workers, no inline styles, so the page's CSP can
 * allow this origin only), React 18's UMD builds it runs on, and our own boot scripts. Each is
 * addressed by a hash of its content (cacheable for a year) and compressed once, on first request.
 */

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Logical name -> where the file is: `package:path` inside an installed package, else ours. */
const SOURCES: Record<string, string> = {
  'react.js': 'react:umd/react.production.min.js',
  'react-dom.js': 'react-dom:umd/react-dom.production.min.js',
  'graphiql.js': 'graphiql:graphiql.min.js',
  'graphiql.css': 'graphiql:graphiql.min.css',
  'local.js': 'browser/local.js',
  'sandbox.js': 'browser/sandbox.js',
  'explorer.css': 'browser/explorer.css',
};

export type AssetName = keyof typeof SOURCES;

interface Asset {
  url: string;
  type: string;
  raw: Buffer;
  etag: string;
  gzip?: Promise<Buffer>;
  br?: Promise<Buffer>;
}

const require = createRequire(import.meta.url);

function locate(source: string): string {
  const colon = source.indexOf(':');
  // The packages' export maps expose only package.json; the files sit beside it.
  if (colon > 0) return resolve(dirname(require.resolve(`${source.slice(0, colon)}/package.json`)), source.slice(colon + 1));
  // Ours are plain browser scripts (no build step): the same files from src/ or from dist/.
  return resolve(packageRoot(), 'src/app/explorer', source);
}

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export class ExplorerAssets {
  private readonly byUrl = new Map<string, Asset>();
  private readonly byName = new Map<string, Asset>();

  constructor() {
    for (const [name, source] of Object.entries(SOURCES)) {
      const raw = readFileSync(locate(source));
      const hash = createHash('sha256').update(raw).digest('hex').slice(0, 12);
      const ext = extname(name);
      const asset: Asset = { url: `/explorer/assets/${name.slice(0, -ext.length)}.${hash}${ext}`, type: TYPES[ext]!, raw, etag: `"${hash}"` };
      this.byUrl.set(asset.url, asset);
      this.byName.set(name, asset);
    }
  }

  /** The hashed URL a page links to. */
  url(name: AssetName): string {
    return this.byName.get(name)!.url;
  }

  /** The file at a hashed URL, in the best encoding the client takes; undefined: no such asset. */
  async get(url: string, acceptEncoding: string | undefined): Promise<{ body: Buffer; type: string; etag: string; encoding?: string } | undefined> {
    const asset = this.byUrl.get(url);
    if (!asset) return undefined;
    const accepts = (coding: string) => new RegExp(`(^|[\\s,])${coding}(?![\\w-])(?!\\s*;\\s*q=0(\\.0*)?\\s*(,|$))`, 'i').test(acceptEncoding ?? '');
    // Quality 9 and level 9: near the best sizes for a fraction of brotli 11's time (a second for all).
    if (accepts('br')) {
      asset.br ??= brotliAsync(asset.raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: asset.raw.length } });
      return { body: await asset.br, type: asset.type, etag: asset.etag, encoding: 'br' };
    }
    if (accepts('gzip')) {
      asset.gzip ??= gzipAsync(asset.raw, { level: 9 });
      return { body: await asset.gzip, type: asset.type, etag: asset.etag, encoding: 'gzip' };
    }
    return { body: asset.raw, type: asset.type, etag: asset.etag };
  }
}
