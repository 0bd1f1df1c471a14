import type { ExplorerChoice } from '../../config/types.js';
import type { ExplorerAssets } from './assets.js';

/**
 * The two explorer pages. `/`: Apollo Sandbox from Apollo's CDN, falling back to the local
 * explorer (EXPLORER=auto) or not (sandbox). `/explorer`: GraphiQL served by the gateway, nothing
 * from elsewhere. Neither has inline script; each page's settings travel as a JSON block.
 */

export interface ExplorerPageOptions {
  version: string;
  /** Operations to start from, each vendor's (its module's `examples`). */
  examples: readonly string[];
  /** Pre-filled Authorization header value (the demo's ready session), if any. */
  demoToken?: string;
  /** The demo's logins, as printed at start-up (demo mode). */
  demoLogins?: string;
  choice: ExplorerChoice;
  assets: ExplorerAssets;
}

export const SANDBOX_SCRIPT = 'https://embeddable-sandbox.cdn.apollographql.com/_latest/embeddable-sandbox.umd.production.min.js';
/** How long `/` waits for the CDN before opening the local explorer. */
export const SANDBOX_WAIT_MS = 4_000;

const COMMON_CSP = ["object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"];
/** The local explorer: this origin only (GraphiQL's fonts and icons are data: URIs in its CSS). */
export const LOCAL_CSP = ["default-src 'self'", "img-src 'self' data:", "font-src 'self' data:", "worker-src 'none'", ...COMMON_CSP].join('; ');
/**
 * Sandbox: its script from Apollo's CDN, its frame from Apollo's embed origin. The frame relays
 * operations to this page, which sends them to /graphql, so connections stay on this origin.
 */
export const SANDBOX_CSP = [
  "default-src 'self'",
  `script-src 'self' ${new URL(SANDBOX_SCRIPT).origin}`,
  'frame-src https://sandbox.embed.apollographql.com',
  "img-src 'self' data:",
  // The embed script sizes its frame with style attributes.
  "style-src 'self' 'unsafe-inline'",
  ...COMMON_CSP,
].join('; ');

const WELCOME = `# Welcome to Switchboard: one schema in front of several vendors' APIs.
#
# 1. Log in with a mutation below (see the demo logins printed at start-up).
# 2. Copy the returned token into the Headers tab as
#      Authorization: Bearer <token>
#    (later logins sent with that header attach to the same session).
# 3. Query across vendors.

query Session {
  session { id expiresAt logins { vendor subject expiresAt } }
}
`;

/** The explorer's starting document: the welcome, the session, and each vendor's examples. */
export function initialDocument(examples: readonly string[]): string {
  return [WELCOME, ...examples.map((e) => e.trim())].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** JSON inside a <script type="application/json">: nothing in it can close the element. */
function jsonBlock(value: unknown): string {
  return `<script type="application/json" id="explorer-config">${JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')}</script>`;
}

function headersOf(options: ExplorerPageOptions): Record<string, string> {
  return { Authorization: options.demoToken ? `Bearer ${options.demoToken}` : 'Bearer <paste the token of a login here>' };
}

function demoLogins(options: ExplorerPageOptions): string {
  if (!options.demoLogins) return '';
  return `<details id="demo-logins"><summary>Demo logins</summary><pre>${escapeHtml(options.demoLogins)}</pre></details>`;
}

function page(title: string, options: ExplorerPageOptions, head: string[], bar: string[], body: string): string {
  const { assets } = options;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
${head.join('\n')}
<link rel="stylesheet" href="${assets.url('explorer.css')}">
</head>
<body>
<div id="explorer-bar"><strong>Switchboard ${escapeHtml(options.version)}</strong>${bar.join('')}${demoLogins(options)}</div>
${body}
</body>
</html>
`;
}

/** `/`: Apollo Sandbox, with a loading state and the way to the local explorer. */
export function sandboxPageHtml(options: ExplorerPageOptions): string {
  const config = {
    mode: options.choice,
    cdn: SANDBOX_SCRIPT,
    timeoutMs: SANDBOX_WAIT_MS,
    localUrl: '/explorer',
    endpoint: '/graphql',
    document: initialDocument(options.examples),
    headers: headersOf(options),
  };
  return page(
    'Switchboard explorer (Apollo Sandbox)',
    options,
    [jsonBlock(config), `<script defer src="${options.assets.url('sandbox.js')}"></script>`],
    [' · Apollo Sandbox', ' · <a id="to-local" href="/explorer">Use the local explorer</a>', ' <span id="explorer-status" role="status"></span>'],
    '<div class="loading" id="sandbox-loading">Loading Apollo Sandbox from Apollo’s CDN…</div>\n<div id="sandbox"></div>',
  );
}

/** `/explorer`: GraphiQL from the gateway's own package. */
export function localPageHtml(options: ExplorerPageOptions): string {
  const { assets } = options;
  const config = { endpoint: '/graphql', document: initialDocument(options.examples), headers: headersOf(options) };
  return page(
    'Switchboard explorer',
    options,
    [
      `<link rel="stylesheet" href="${assets.url('graphiql.css')}">`,
      jsonBlock(config),
      // In this order: GraphiQL's bundle reads the React globals; `defer` keeps it.
      ...(['react.js', 'react-dom.js', 'graphiql.js', 'local.js'] as const).map((name) => `<script defer src="${assets.url(name)}"></script>`),
    ],
    [
      ' · Local explorer (works offline)',
      ' <span id="explorer-status" role="status"></span>',
      ...(options.choice === 'auto' ? [' · <a id="to-sandbox" href="/?explorer=sandbox">Use Apollo Sandbox</a>', ' · <button id="keep-local" type="button">Always open this one</button>'] : []),
      options.choice === 'sandbox' ? ' · <a id="to-sandbox" href="/">Back to Apollo Sandbox</a>' : '',
    ],
    '<div id="root"><div class="loading">Loading the explorer…</div></div>',
  );
}
