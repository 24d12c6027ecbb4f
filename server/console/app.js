// The console's shell: routes `#/<view>?<params>` to a view module, keeps the nav, the
// error banner, the token prompt and the tenant picker. Each view is
// `views/<name>.js` exporting `mount(root, ctx)`, which may return an `unmount()`.

import { api, session, ApiError } from './lib/api.js';

const VIEWS = ['promql', 'sql', 'traces', 'logs', 'cardinality', 'targets', 'status'];
const main = document.getElementById('main');
const banner = document.getElementById('error');
const tenantSelect = document.getElementById('tenant');
const signout = document.getElementById('signout');
const login = document.getElementById('login');
let current = null; // {name, query, unmount}

function setError(msg) {
  banner.textContent = msg instanceof ApiError ? `${msg.status}: ${msg.message}` : String(msg);
  banner.hidden = false;
}
function clearError() { banner.hidden = true; banner.textContent = ''; }

/** `#/view?x=1` -> {name, params}. */
function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, query = ''] = hash.split('?');
  return { name: VIEWS.includes(name) ? name : 'promql', query, params: new URLSearchParams(query) };
}

/** Goes to `hash` (`#/traces?id=...`); replaces the history entry when `replace`. */
function navigate(hash, { replace = false } = {}) {
  if (replace) { history.replaceState(null, '', hash); route(); } else location.hash = hash;
}

async function route() {
  const { name, query, params } = parseHash();
  if (current && current.name === name && current.query === query) return;
  if (current && current.unmount) current.unmount();
  clearError();
  for (const a of document.querySelectorAll('header nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = document.createElement('section');
  root.className = `view view-${name}`;
  main.replaceChildren(root);
  current = { name, query, unmount: null };
  const mine = current;
  try {
    const mod = await import(`./views/${name}.js`);
    if (mine !== current) return; // navigated away while loading
    const ctx = {
      api, params, setError, clearError, session,
      navigate,
      /** Rewrites the hash's parameters without remounting (for shareable URLs). */
      setParams(p) {
        const q = new URLSearchParams(p).toString();
        mine.query = q;
        history.replaceState(null, '', `#/${name}${q ? `?${q}` : ''}`);
      },
    };
    markReady(root);
    mine.unmount = mod.mount(root, ctx) || null;
    if (typeof mine.unmount !== 'function') mine.unmount = null;
  } catch (e) {
    setError(e);
  }
}

/**
 * Marks `strata:view-ready` in the performance timeline the first time any view reports
 * `data-state="ready"` (its first answer drawn): the console's "interactive" moment, which
 * the browser test reads.
 */
function markReady(root) {
  if (performance.getEntriesByName('strata:view-ready').length) return;
  const seen = new MutationObserver(() => {
    if (root.dataset.state !== 'ready') return;
    seen.disconnect();
    if (!performance.getEntriesByName('strata:view-ready').length) performance.mark('strata:view-ready');
  });
  seen.observe(root, { attributes: true, attributeFilter: ['data-state'] });
}

/** Fills the tenant picker from `/api/v1/status/tenants`. */
async function loadTenants() {
  try {
    const { data } = await api.get('/api/v1/status/tenants');
    signout.hidden = !data.auth;
    const tenants = data.tenants.length ? data.tenants : [data.tenant];
    const chosen = session.tenant && tenants.includes(session.tenant) ? session.tenant : data.tenant;
    tenantSelect.replaceChildren(...tenants.map((t) => {
      const o = document.createElement('option');
      o.value = t; o.textContent = t; o.selected = t === chosen;
      return o;
    }));
    tenantSelect.disabled = !data.canChoose || tenants.length < 2;
    session.tenant = data.canChoose ? chosen : '';
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) setError(e);
  }
}

tenantSelect.addEventListener('change', () => {
  session.tenant = tenantSelect.value;
  current = null; // remount the view for the new tenant
  route();
});
signout.addEventListener('click', () => {
  session.token = ''; session.tenant = '';
  location.reload();
});

let prompting = false;
session.onUnauthorized((message) => {
  if (prompting) return;
  prompting = true;
  const err = document.getElementById('login-error');
  err.hidden = !session.token;
  err.textContent = session.token ? message : '';
  login.showModal();
  document.getElementById('token').focus();
});
document.getElementById('login-form').addEventListener('submit', () => {
  session.token = document.getElementById('token').value.trim();
  prompting = false;
  current = null;
  loadTenants().then(route);
});

window.addEventListener('hashchange', route);
loadTenants().then(route);
