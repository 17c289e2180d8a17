// The console's session: the API token kept in an HttpOnly cookie (script on the page never sees
// it), and a CSRF token derived from it that the page must send on every change. SameSite=Strict
// already keeps the cookie off cross-site requests; the header is the second, independent guard.

/** `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/. */
export const SESSION_COOKIE = '__Host-tessera_session';
/** The header a cookie-authenticated change must carry. */
export const CSRF_HEADER = 'x-csrf-token';
/** How long a console session lasts (seconds). */
export const SESSION_SECONDS = 12 * 3600;

const b64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/**
 * The CSRF token of a session: a hash of its API token, so the server checks it without storing
 * anything, and knowing it reveals nothing of the token. Only a page that signed in (or reads
 * `GET /api/session`, which a cross-site page cannot) learns it.
 */
export async function csrfFor(token: string): Promise<string> {
  return b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`tessera-csrf\0${token}`)));
}

/** The session token from a `Cookie` header, if there is one. */
export function sessionToken(cookieHeader: string | null | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `Set-Cookie` value that starts a session (`token`) or ends it (`null`). */
export function sessionCookie(token: string | null): string {
  const value = token === null ? '' : encodeURIComponent(token);
  const age = token === null ? 0 : SESSION_SECONDS;
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${age}`;
}

/** True for methods that change something, so a cookie alone is not enough. */
export const isChange = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
