import { describe, expect, it } from 'vitest';
import { originCacheHeaders, publicOrigin } from './origin';

describe('publicOrigin', () => {
  it('prefers the configured PUBLIC_URL over the request, keeping only its origin', () => {
    const o = publicOrigin('https://forged.example/analytics.js', 'https://cdp.shop.example/some/path');
    expect(o?.url.origin).toBe('https://cdp.shop.example');
    expect(o?.configured).toBe(true);
  });

  it('falls back to the request host when it is a plain hostname[:port]', () => {
    for (const host of ['cdp.example', 'localhost:8787', '127.0.0.1:8787', '[::1]:8787', 'a-b.c0.example']) {
      expect(publicOrigin(`http://${host}/x`, '')?.url.host, host).toBe(host);
    }
  });

  it('refuses a host that is not a hostname', () => {
    for (const host of ['evil_host.example', '-bad.example', 'a..b', `${'a'.repeat(64)}.example`]) {
      expect(publicOrigin(`http://${host}/x`), host).toBeUndefined();
    }
  });

  it('lets shared caches keep only answers built from the configured origin', () => {
    expect(originCacheHeaders({ url: new URL('https://a.example'), configured: true }, 60)).toEqual({
      'cache-control': 'public, max-age=60',
    });
    expect(originCacheHeaders({ url: new URL('https://a.example'), configured: false }, 60)).toEqual({
      'cache-control': 'private, max-age=60',
      vary: 'Host',
    });
  });
});
