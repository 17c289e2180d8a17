// The console's calls to the admin API: the session cookie authenticates (the browser sends it),
// and every change carries the CSRF token the sign-in answered. The token itself is never here.
let csrf = '';
export const session = { name: '', scopes: [] };

export class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

/** JSON call; throws ApiFailure with the API's message on a non-2xx answer. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiFailure(res.status, data);
  return data;
}

function adopt(s) {
  csrf = s.csrfToken ?? '';
  session.name = s.name;
  session.scopes = s.scopes;
}

/** The current session, or null when signed out. */
export async function loadSession() {
  try {
    const s = await api('/api/session');
    if (!s.signedIn) return null;
    adopt(s);
    return session;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) return null;
    throw err;
  }
}

export async function signIn(token) {
  adopt(await api('/api/session', { method: 'POST', body: { token } }));
  return session;
}

export async function signOut() {
  await api('/api/session', { method: 'DELETE' });
  csrf = '';
}

/** True when the session's token holds `scope` (an owner holds every scope). */
export const can = (scope) => session.scopes.includes('workspace:owner') || session.scopes.includes(scope);
