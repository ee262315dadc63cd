// The page's only way to the daemon: the JSON API with the session cookie, and the session's CSRF
// token on every call that changes something.
import { t, tFirst } from './i18n.js';

const csrf = document.querySelector('meta[name="csrf-token"]').content;

export class ApiError extends Error {
  constructor(status, code, message, field, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.details = details || null;
  }
}

export async function api(method, path, body, { accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (res.status === 401) {
    // the session ended (logout elsewhere, expiry): back to the login form
    window.location.assign('/login');
    throw new ApiError(401, 'unauthorized', t('error.unauthorized'));
  }
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch (e) { /* not JSON */ }
    throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText, err.field,
                       err.details);
  }
  if (accept !== 'application/json') return res;
  return res.status === 204 ? null : res.json();
}

// Every page of a list (the API pages with next_cursor).
export async function listAll(path, max = 5000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await api('GET', url);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// What to tell the operator: the translated error code, else the daemon's own message.
export function errorText(err) {
  if (err instanceof ApiError) {
    // an error with figures (details) is said with them where the page has words for it
    const keys = err.details ? [`error.${err.code}.details`] : [];
    const known = tFirst([...keys, `error.${err.code}`, `error.http_${err.status}`], err.details || {});
    if (known) return known;
    return t('error.generic', { detail: err.message || err.code });
  }
  return t('error.generic', { detail: String(err && err.message ? err.message : err) });
}
