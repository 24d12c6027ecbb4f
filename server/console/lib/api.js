// The console's one way to call the server: the same authenticated HTTP APIs any client
// uses. Adds `Authorization: Bearer <token>` when the user gave a token, and
// `X-Scope-OrgID` when a tenant was picked; turns error answers into ApiError.

const TOKEN = 'strata.token';
const TENANT = 'strata.tenant';

/** An answer with a non-2xx status; `message` is the server's own words. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const listeners = { unauthorized: [] };

export const session = {
  get token() { return sessionStorage.getItem(TOKEN) || ''; },
  set token(v) { v ? sessionStorage.setItem(TOKEN, v) : sessionStorage.removeItem(TOKEN); },
  get tenant() { return sessionStorage.getItem(TENANT) || ''; },
  set tenant(v) { v ? sessionStorage.setItem(TENANT, v) : sessionStorage.removeItem(TENANT); },
  /** Calls `fn()` whenever the server answers 401 (the console then asks for a token). */
  onUnauthorized(fn) { listeners.unauthorized.push(fn); },
};

function headers(extra) {
  const h = new Headers(extra || {});
  if (session.token) h.set('Authorization', `Bearer ${session.token}`);
  if (session.tenant && !h.has('X-Scope-OrgID')) h.set('X-Scope-OrgID', session.tenant);
  return h;
}

/** The error message of a failed answer: Prometheus/Loki JSON `error`, else the text. */
async function errorOf(resp) {
  const text = await resp.text();
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return j.error;
    if (j && typeof j.message === 'string') return j.message;
    if (j && Array.isArray(j.errors) && j.errors.length) return j.errors.map((e) => e.msg || e).join('; ');
  } catch (_) { /* not JSON */ }
  return text.trim() || `${resp.status} ${resp.statusText}`;
}

/** fetch() with the session's headers; throws ApiError on a non-2xx answer. */
export async function raw(path, init = {}) {
  const resp = await fetch(path, { ...init, headers: headers(init.headers) });
  if (!resp.ok) {
    const message = await errorOf(resp);
    if (resp.status === 401) listeners.unauthorized.forEach((fn) => fn(message));
    throw new ApiError(resp.status, message);
  }
  return resp;
}

/** `path?params` as JSON. `params`: an object (arrays repeat the key) or URLSearchParams. */
export async function get(path, params) {
  return (await raw(withQuery(path, params))).json();
}

/** POST `body` (string, FormData or URLSearchParams) to `path`, as JSON. */
export async function post(path, body, init = {}) {
  return (await raw(path, { ...init, method: 'POST', body })).json();
}

/** `path` with `params` as its query string. */
export function withQuery(path, params) {
  if (!params) return path;
  const q = params instanceof URLSearchParams ? params : new URLSearchParams();
  if (!(params instanceof URLSearchParams)) {
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Unpadded base64url of a string's UTF-8 bytes. */
function base64url(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A WebSocket to `path?params` on this server. Browsers cannot set headers on a
 * WebSocket, so the session's token and tenant go as subprotocols beside `strata.tail`
 * (`strata.bearer.<base64url token>`, `strata.tenant.<id>`), which the server reads as
 * it reads `Authorization` and `X-Scope-OrgID`. */
export function socket(path, params) {
  const url = new URL(withQuery(path, params), location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const protocols = ['strata.tail'];
  if (session.token) protocols.push(`strata.bearer.${base64url(session.token)}`);
  if (session.tenant) protocols.push(`strata.tenant.${session.tenant}`);
  return new WebSocket(url, protocols);
}

export const api = { get, post, raw, withQuery, socket };
