import { createExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { env, makeSource, SELF } from './kit/workers';

let writeKey: string;
beforeAll(async () => {
  writeKey = (await makeSource('Snippet')).writeKey;
});

describe('first-party analytics.js', () => {
  it('serves the analytics.js build with a prologue naming this Worker as its CDN', async () => {
    const res = await SELF.fetch(`https://cdp.example/analytics.js/v1/${writeKey}/analytics.min.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    const body = await res.text();
    const [prologue] = body.split('\n', 1);
    expect(prologue).toContain('"https://cdp.example"');
    expect(prologue).toContain('_cdn');
    expect(body.length).toBeGreaterThan(50_000);
  });

  it('404 for an unknown write key', async () => {
    const res = await SELF.fetch('https://cdp.example/analytics.js/v1/wk_unknown/analytics.min.js');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await SELF.fetch('https://cdp.example/v1/projects/wk_unknown/settings')).status).toBe(404);
  });

  it('answers CDN settings that send Segment.io calls back to this Worker', async () => {
    const res = await SELF.fetch(`http://localhost:8787/v1/projects/${writeKey}/settings`);
    expect(res.status).toBe(200);
    const settings = await res.json<{ integrations: Record<string, Record<string, unknown>> }>();
    expect(settings.integrations['Segment.io']).toMatchObject({
      apiKey: writeKey,
      apiHost: 'localhost:8787/v1',
      protocol: 'http',
    });
  });

  it('serves the lazily loaded chunks the bundle asks for', async () => {
    const script = await (await SELF.fetch(`https://cdp.example/analytics.js/v1/${writeKey}/analytics.min.js`)).text();
    // webpack's chunk map: id → content hash; the chunk file is `<name>.bundle.<hash>.js`.
    const hash = /248:"([0-9a-f]{20})"/.exec(script)?.[1];
    expect(hash).toMatch(/^[0-9a-f]{20}$/);
    const res = await SELF.fetch(`https://cdp.example/analytics-next/bundles/auto-track.bundle.${hash}.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect((await SELF.fetch('https://cdp.example/analytics-next/bundles/nope.js')).status).toBe(404);
  });
});

describe('the Host header is not trusted into cached answers', () => {
  const script = (host: string) => `https://${host}/analytics.js/v1/${writeKey}/analytics.min.js`;
  const settings = (host: string) => `https://${host}/v1/projects/${writeKey}/settings`;
  /** The real app with `PUBLIC_URL` configured. */
  const withPublicUrl = (url: string) =>
    app.fetch(new Request(url), { ...env, PUBLIC_URL: 'https://cdp.shop.example' }, createExecutionContext());

  it('with PUBLIC_URL, a forged host is ignored and the answers may be cached publicly', async () => {
    const res = await withPublicUrl(script('attacker.example'));
    expect(res.status).toBe(200);
    const [prologue] = (await res.text()).split('\n', 1);
    expect(prologue).toContain('"https://cdp.shop.example"');
    expect(prologue).not.toContain('attacker');
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const s = await withPublicUrl(settings('attacker.example'));
    const body = await s.json<{ integrations: Record<string, Record<string, unknown>> }>();
    expect(body.integrations['Segment.io']).toMatchObject({ apiHost: 'cdp.shop.example/v1', protocol: 'https' });
    expect(s.headers.get('cache-control')).toBe('public, max-age=60');
  });

  it('without PUBLIC_URL, a host derived from the request is kept out of shared caches', async () => {
    for (const url of [script('cdp.example'), settings('cdp.example')]) {
      const res = await SELF.fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('cache-control'), url).toMatch(/^private, max-age=\d+$/);
      expect(res.headers.get('vary'), url).toContain('Host');
    }
  });

  it('without PUBLIC_URL, a host that is not a plain hostname[:port] is refused', async () => {
    for (const host of ['evil_host.example', 'a..b.example', '-x.example']) {
      for (const url of [script(host), settings(host)]) {
        const res = await SELF.fetch(url);
        expect(res.status, url).toBe(400);
        expect(await res.json(), url).toMatchObject({ error: { code: 'invalid_host' } });
      }
    }
  });
});
