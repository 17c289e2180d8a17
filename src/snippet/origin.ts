/** Where the snippet tells browsers to load from and send to. */
export interface PublicOrigin {
  url: URL;
  /** True when it comes from `PUBLIC_URL`, false when derived from the request's Host. */
  configured: boolean;
}

/** A DNS name (labels of letters, digits and inner hyphens), IPv4 or bracketed IPv6, optional port. */
const HOST =
  /^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The origin analytics.js is pointed at. `PUBLIC_URL` (the deployment's public address) wins, so
 * no request can choose what a cached script names; without it the request's own host is used,
 * but only when it is a plain hostname[:port] (a forged Host header may carry anything).
 * Undefined when the host is not acceptable.
 */
export function publicOrigin(requestUrl: string, configured?: string): PublicOrigin | undefined {
  if (configured?.trim()) {
    const url = new URL(configured.trim());
    return { url: new URL(url.origin), configured: true };
  }
  const url = new URL(requestUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (!HOST.test(url.host) || url.host.length > 260) return undefined;
  return { url: new URL(url.origin), configured: false };
}

/**
 * Caching of an answer that names the origin: shared caches may keep it when the origin is
 * configured; when it came from the request's Host, only the browser may, and keyed by Host.
 */
export function originCacheHeaders(origin: PublicOrigin, maxAge: number): Record<string, string> {
  return origin.configured
    ? { 'cache-control': `public, max-age=${maxAge}` }
    : { 'cache-control': `private, max-age=${maxAge}`, vary: 'Host' };
}
