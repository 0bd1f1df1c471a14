// The explorer at `/`: Apollo Sandbox from Apollo's CDN, or the gateway's own explorer when the
// CDN cannot be reached (at once on a load error, after a short wait when it hangs). No inline
// script: the page's Content-Security-Policy allows scripts from this origin and Apollo's CDN only.
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('explorer-config').textContent);
  var KEY = 'switchboard.explorer';
  function preference() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function prefer(value) {
    try { if (value) localStorage.setItem(KEY, value); else localStorage.removeItem(KEY); } catch (e) { /* storage off: no memory */ }
  }
  var asked = new URLSearchParams(location.search).get('explorer');
  if (asked === 'sandbox') prefer(null);
  function local(reason) {
    location.replace(cfg.localUrl + (reason ? '?from=sandbox&reason=' + encodeURIComponent(reason) : ''));
  }
  // Someone chose the local explorer on this browser before: go there without touching the CDN.
  if (cfg.mode === 'auto' && asked !== 'sandbox' && preference() === 'local') return local('');
  document.getElementById('to-local').addEventListener('click', function () { prefer('local'); });

  var status = document.getElementById('explorer-status');
  var done = false;
  function unavailable(reason) {
    if (done) return;
    if (cfg.mode === 'auto') {
      done = true;
      status.textContent = 'Apollo Sandbox is unavailable (' + reason + '): opening the local explorer…';
      return local(reason);
    }
    status.textContent = reason === 'timeout'
      ? 'Apollo Sandbox is still loading from Apollo’s CDN…'
      : 'Apollo Sandbox could not be loaded (' + reason + '). The local explorer works offline.';
  }
  var timer = setTimeout(function () { unavailable('timeout'); }, cfg.timeoutMs);
  var script = document.createElement('script');
  script.src = cfg.cdn;
  script.async = true;
  script.onerror = function () { clearTimeout(timer); unavailable('load-error'); };
  script.onload = function () {
    clearTimeout(timer);
    if (done) return;
    if (typeof window.EmbeddedSandbox !== 'function') return unavailable('no-sandbox');
    done = true;
    status.textContent = '';
    document.body.classList.add('sandbox-ready');
    new window.EmbeddedSandbox({
      target: '#sandbox',
      initialEndpoint: new URL(cfg.endpoint, location.href).href,
      initialState: { document: cfg.document, headers: cfg.headers, includeCookies: false },
      hideCookieToggle: true,
      endpointIsEditable: false,
      runTelemetry: false,
      allowDynamicStyles: false,
    });
  };
  document.head.appendChild(script);
})();
