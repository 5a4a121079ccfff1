// The console's one door to the service: the public /v1 API. The access token lives in this
// module's memory only; the refresh token is an HttpOnly cookie the browser sends to
// /v1/console/session and nowhere else. When a session ends mid-work, calls wait for the clerk
// to log in again (the shell shows a login dialog), then go on, so nothing on screen is lost.

let access = null;
let expiresAt = 0;
let staff = null;
let refreshing = null;
let relogin = null;
const listeners = new Set();

/** A problem+json answer, or a network failure, as something to show the clerk. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || 'http_' + status;
    this.problem = problem;
    const wait = headers && Number(headers.get('retry-after'));
    this.retryAfter = wait > 0 ? wait : null;
  }
}

/** The member logged in, or null. */
export const me = () => staff;
export const hasRole = (role) => !!staff && staff.roles.includes(role);

/** Calls `fn(event)` on 'login', 'logout' and 'relogin' (a dialog is needed). */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const emit = (event) => listeners.forEach((fn) => fn(event));

function take(session) {
  access = session.access_token;
  expiresAt = Date.now() + session.expires_in * 1000;
  staff = session.staff;
}

async function problemOf(res) {
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      return await res.json();
    } catch (_) {
      /* fall through */
    }
  }
  return { status: res.status, title: res.statusText, detail: `服务返回 ${res.status}` };
}

async function sessionCall(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, { code: 'network', detail: '无法连接服务器，请检查网络后重试。' });
  }
  if (!res.ok) throw new ApiError(res.status, await problemOf(res), res.headers);
  return res.status === 204 ? null : res.json();
}

/** Logs in; throws ApiError (invalid_credentials, account_locked, account_disabled...). */
export async function login(username, password) {
  const session = await sessionCall('POST', '/v1/console/session', { username, password });
  const wasRelogin = !!relogin;
  take(session);
  if (relogin) {
    relogin.resolve();
    relogin = null;
  }
  emit(wasRelogin ? 'relogged' : 'login');
  return session.staff;
}

/** Picks up the session of this browser's cookie (after a reload); false when there is none. */
export async function resume() {
  try {
    take(await sessionCall('POST', '/v1/console/session/refresh'));
    emit('login');
    return true;
  } catch (_) {
    return false;
  }
}

export async function logout() {
  try {
    await sessionCall('DELETE', '/v1/console/session');
  } finally {
    access = null;
    staff = null;
    expiresAt = 0;
    emit('logout');
  }
}

/** A fresh access token from the cookie, one refresh at a time. */
function refresh() {
  if (!refreshing) {
    refreshing = sessionCall('POST', '/v1/console/session/refresh')
      .then((session) => {
        take(session);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Waits until the clerk has logged in again in the shell's dialog. */
function needLogin() {
  if (!relogin) {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    relogin = { promise, resolve };
    access = null;
    emit('relogin');
  }
  return relogin.promise;
}

/** Whether the shell should show the login dialog now. */
export const reloginPending = () => !!relogin;

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

/**
 * Calls the API. `opts`: `query`, `json` (a body), `form` (FormData), `as` ('json' | 'blob' |
 * 'response'), `headers`. Resolves to the parsed answer (null for 204); rejects with ApiError.
 */
export async function api(method, path, opts = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!access || Date.now() > expiresAt - 15000) {
      if (!(await refresh())) await needLogin();
    }
    const headers = { authorization: `Bearer ${access}`, ...(opts.headers || {}) };
    let body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.form) {
      body = opts.form;
    }
    let res;
    try {
      res = await fetch(url(path, opts.query), { method, headers, body });
    } catch (_) {
      throw new ApiError(0, { code: 'network', detail: '无法连接服务器，请检查网络后重试。' });
    }
    if (res.status === 401) {
      const problem = await problemOf(res);
      if (problem.code === 'token_expired' && (await refresh())) continue;
      await needLogin();
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, await problemOf(res), res.headers);
    if (opts.as === 'response') return res;
    if (res.status === 204) return null;
    if (opts.as === 'blob') return res.blob();
    return res.json();
  }
  throw new ApiError(401, { code: 'session_ended', detail: '登录已失效，请重新登录。' });
}

export const get = (path, query) => api('GET', path, { query });
export const post = (path, json) => api('POST', path, { json });
