// The gateway's own explorer: GraphiQL from the gateway's package, no network beyond this origin.
// Queries and mutations over HTTP to /graphql; subscriptions over graphql-ws on the same path,
// with the Headers tab sent as the connection's parameters (its Authorization is the session).
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('explorer-config').textContent);
  var http = new URL(cfg.endpoint, location.href);
  var ws = new URL(cfg.endpoint, location.href);
  ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({ url: http.href, subscriptionUrl: ws.href });
  // Sent here by `/`: say why, so nobody wonders where Sandbox went.
  var reason = new URLSearchParams(location.search).get('reason');
  if (reason) document.getElementById('explorer-status').textContent = '· Apollo Sandbox did not load (' + (reason === 'timeout' ? 'no answer from its CDN' : 'its CDN cannot be reached') + ')';
  // The switch (EXPLORER=auto): back to Sandbox, or remember this one for `/` on this browser.
  var toSandbox = document.getElementById('to-sandbox');
  if (toSandbox) toSandbox.addEventListener('click', function () {
    try { localStorage.removeItem('switchboard.explorer'); } catch (e) { /* storage off */ }
  });
  var keep = document.getElementById('keep-local');
  if (keep) keep.addEventListener('click', function () {
    try { localStorage.setItem('switchboard.explorer', 'local'); } catch (e) { /* storage off */ }
    keep.textContent = 'Remembered: / opens the local explorer';
  });
  ReactDOM.createRoot(document.getElementById('root')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: cfg.document,
      defaultHeaders: JSON.stringify(cfg.headers, null, 2),
      // Tabs and history hold the Authorization header: keep them for this browser tab only.
      storage: window.sessionStorage,
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
    }),
  );
})();
