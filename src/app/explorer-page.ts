/**
 * The explorer page: Apollo Sandbox, embedded from Apollo's CDN, pointed at /graphql whichever
 * path served the page (Apollo's own landing page targets the page's URL, which is wrong at `/`).
 */

export interface LandingOptions {
  /** Pre-filled Authorization header value (the demo's ready session), if any. */
  demoToken?: string;
  version: string;
  /** Operations to start from, each vendor's (its module's `examples`). */
  examples: readonly string[];
}

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

function htmlSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/'/g, '\\u0027');
}

export function landingPageHtml(options: LandingOptions): string {
  const config = {
    target: '#sandbox',
    initialState: {
      document: initialDocument(options.examples),
      headers: options.demoToken ? { Authorization: `Bearer ${options.demoToken}` } : { Authorization: 'Bearer <paste the token of a login here>' },
      includeCookies: false,
    },
    hideCookieToggle: true,
    endpointIsEditable: false,
    runTelemetry: false,
    allowDynamicStyles: false,
  };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard explorer</title>
<style>
  html, body { margin: 0; height: 100%; font-family: system-ui, sans-serif; }
  #sandbox { position: absolute; inset: 0; }
  .fallback { padding: 2rem; max-width: 40rem; }
  iframe { width: 100%; height: 100%; border: none; }
</style>
</head>
<body>
<div class="fallback">
  <h1>Switchboard ${options.version}</h1>
  <p>Apollo Sandbox loads from Apollo's CDN and could not be loaded (offline?).
  The GraphQL endpoint is <code>POST /graphql</code>; send <code>Authorization: Bearer &lt;token&gt;</code>
  with the token a login mutation returns.</p>
</div>
<div id="sandbox"></div>
<script src="https://embeddable-sandbox.cdn.apollographql.com/_latest/embeddable-sandbox.umd.production.min.js"></script>
<script>
  var config = ${htmlSafeJson(config)};
  config.initialEndpoint = new URL('/graphql', window.location.href).href;
  if (window.EmbeddedSandbox) new window.EmbeddedSandbox(config);
</script>
</body>
</html>
`;
}
