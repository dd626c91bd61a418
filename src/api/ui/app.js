// Router and shell: hash routes, the token form, one alert stream shared by the views and the badge.
import { alertStream, api, token } from './api.js';
import * as views from './views.js';

const el = document.getElementById('view');
const banner = document.getElementById('banner');
let cleanup = () => {};

function onError(err) {
  banner.hidden = false;
  banner.textContent =
    err.status === 401
      ? 'This gateway needs an API token to show its data: enter one at the top right.'
      : err.status === 403
        ? `Not allowed with this token: ${err.message}`
        : `Cannot reach the daemon: ${err.message}`;
}

const listeners = new Set();
let live = false;
alertStream(
  (ev) => {
    listeners.forEach((l) => l(ev, true));
    refreshBadge();
  },
  (ok) => {
    live = ok;
    listeners.forEach((l) => l(null, ok));
  },
);
function subscribe(fn) {
  listeners.add(fn);
  fn(null, live);
  return () => listeners.delete(fn);
}

async function refreshBadge() {
  try {
    const r = await api('/api/v1/alerts?state=unresolved&limit=500');
    const b = document.getElementById('alert-count');
    b.hidden = r.items.length === 0;
    b.textContent = String(r.items.length);
  } catch {
    // the view shows the error
  }
}

function route() {
  cleanup();
  banner.hidden = true;
  const hash = location.hash || '#/';
  const m = /^#\/machine\/(.+)$/.exec(hash);
  const name = m ? 'fleet' : hash.slice(2) || 'fleet';
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === name));
  const ctx = { onError, subscribe };
  cleanup = m ? views.machine(el, decodeURIComponent(m[1]), ctx) : (views[name] ?? views.fleet)(el, ctx);
}

document.getElementById('token').value = token.get();
document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token.set(document.getElementById('token').value.trim());
  route();
});
window.addEventListener('hashchange', route);
route();
refreshBadge();
setInterval(refreshBadge, 15_000);
