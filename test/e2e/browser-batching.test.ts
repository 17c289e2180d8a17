// analytics.js in batching mode (`deliveryStrategy: batching`) in headless Chromium, with a consent
// source middleware: calls must leave in batches through `/v1/b`, each event arrive with the consent
// object the middleware set, and the profile keep it.
import { randomUUID } from 'node:crypto';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snippetFor } from '../../scripts/local.mjs';
import { type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';
import { CHROMIUM, CHROMIUM_ARGS, guardBrowser, HAVE_BROWSER } from './chromium';

guardBrowser('batching e2e');

const CONSENT = { categoryPreferences: { Advertising: false, Analytics: true, Functional: true } };
const TRACKS = 5;

/** The standard snippet, loaded with Segment's batching delivery strategy and a consent middleware. */
function batchingSnippet(url: string, writeKey: string, run: string): string {
  const load = `analytics.load("${writeKey}");`;
  const snippet = snippetFor(url, writeKey);
  if (!snippet.includes(load)) throw new Error('the snippet no longer calls analytics.load as expected');
  const middleware = `analytics.addSourceMiddleware(function (m) {
    m.payload.obj.context = m.payload.obj.context || {};
    m.payload.obj.context.consent = ${JSON.stringify(CONSENT)};
    m.next(m.payload);
  });`;
  const options = {
    integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 10, timeout: 500 } } } },
  };
  return snippet
    .replace(load, `${middleware}\n  analytics.load("${writeKey}", ${JSON.stringify(options)});`)
    .replace(
      '</script>',
      `  for (var i = 0; i < ${TRACKS}; i++) analytics.track('Batched ' + i, { run: '${run}', i: i });\n</script>`,
    );
}

interface BrowserEvent {
  type: string;
  anonymousId?: string;
  event?: string;
  writeKey?: string;
  properties?: Record<string, unknown>;
  context: { consent?: unknown; library?: { name: string }; page?: { url?: string } };
}

describe.skipIf(!HAVE_BROWSER)(
  'analytics.js batching mode with a consent middleware in Chromium → wrangler dev',
  () => {
    let t: Tessera;
    let site: Receiver;
    let siteUrl: string;
    let browser: Browser;
    const run = randomUUID();
    const pages = new Map<string, string>();
    const pageFor = (writeKey: string, tag: string) =>
      `<!doctype html><html><head><title>batching</title>${batchingSnippet(t.url, writeKey, tag)}</head><body></body></html>`;

    beforeAll(async () => {
      t = await startTessera({ sourceName: 'batching e2e' });
      pages.set('/shop', pageFor(t.writeKey, run));
      site = await startReceiver((r) => {
        const html = pages.get(new URL(r.path, 'http://x').pathname);
        return html
          ? { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html }
          : { status: 404 };
      });
      siteUrl = site.url;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });
    afterAll(async () => {
      await browser?.close();
      await site?.stop();
      await t?.stop();
    });

    it('sends page and tracks in batches to /v1/b, keeping context.consent on every stored event', async () => {
      const page = await browser.newPage();
      const posts: { path: string; status: number; events: number }[] = [];
      const offHost: string[] = [];
      const pageErrors: string[] = [];
      await page.route('**/*', (route) => {
        if (new URL(route.request().url()).hostname === '127.0.0.1') return route.continue();
        offHost.push(route.request().url());
        return route.abort();
      });
      page.on('response', (res) => {
        const req = res.request();
        if (req.method() !== 'POST' || !res.url().startsWith(t.url)) return;
        const body = JSON.parse(req.postData() ?? '{}') as { batch?: unknown[] };
        posts.push({ path: new URL(res.url()).pathname, status: res.status(), events: body.batch?.length ?? 1 });
      });
      page.on('pageerror', (err) => pageErrors.push(err.message));

      await page.goto(`${siteUrl}/shop?run=${run}`);
      const sent = await eventually(() => posts.reduce((n, p) => n + p.events, 0) >= TRACKS + 1 && posts, {
        timeout: 15_000,
        message: `${TRACKS + 1} events posted to ${t.url}`,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\nposts: ${JSON.stringify(posts)}\nerrors: ${pageErrors.join(' | ')}`);
      });
      expect(offHost).toEqual([]);
      expect(pageErrors).toEqual([]);
      // Batching mode: every call leaves through /b, answered 200; no single-event endpoint is used.
      expect(
        sent.every((p) => p.path === '/v1/b' && p.status === 200),
        JSON.stringify(sent),
      ).toBe(true);
      expect(sent.length).toBeLessThan(TRACKS + 1);

      const mine = await eventually(
        async () => {
          const es = (await t.debuggerEvents<BrowserEvent>()).filter(
            (e) => e.event.properties?.run === run || e.event.context?.page?.url?.includes(run),
          );
          return es.length === TRACKS + 1 && es;
        },
        { message: 'page and tracks of the batching page in the debugger' },
      );
      for (const e of mine) {
        expect(e.status, JSON.stringify(e.error)).toBe('accepted');
        expect(e.event.context.consent).toEqual(CONSENT);
        expect(e.event.context.library?.name).toBe('analytics.js');
        expect(e.event.writeKey).toBeUndefined(); // batching puts it in every item; it is auth, not data
      }
      const names = mine.filter((e) => e.event.type === 'track').map((e) => e.event.event);
      expect(names.sort()).toEqual(Array.from({ length: TRACKS }, (_, i) => `Batched ${i}`));

      // The profile's stored events keep the consent object too.
      const anonymousId = mine[0].event.anonymousId!;
      const events = await eventually(
        async () => {
          const res = await fetch(
            `${t.url}/v1/spaces/default/collections/users/profiles/anonymous_id:${encodeURIComponent(anonymousId)}/events?limit=20`,
            { headers: { authorization: `Basic ${Buffer.from(`${t.adminToken}:`).toString('base64')}` } },
          );
          const body = res.ok ? ((await res.json()) as { data: { context: { consent?: unknown } }[] }) : undefined;
          return body && body.data.length === TRACKS + 1 && body.data;
        },
        { timeout: 15_000, message: 'the batched events on the anonymous profile' },
      );
      for (const e of events) expect(e.context.consent).toEqual(CONSENT);
      await page.close();
    });

    it('a page still carrying a rotated key keeps working during the grace period, its events marked', async () => {
      // A page cached by a CDN (or a mobile build) keeps the old key for a while after a rotation.
      const source = await t.admin<{ id: string; writeKey: string }>('/api/sources', {
        method: 'POST',
        body: { name: 'rotated site' },
      });
      await t.admin(`/api/sources/${source.id}/rotate-key`, { method: 'POST', body: { graceSeconds: 600 } });
      const tag = randomUUID();
      pages.set('/cached', pageFor(source.writeKey, tag));
      const page = await browser.newPage();
      await page.goto(`${siteUrl}/cached`);
      const mine = await eventually(
        async () => {
          const es = (await t.debuggerEvents<BrowserEvent>(source.id)).filter((e) => e.event.properties?.run === tag);
          return es.length === TRACKS && es;
        },
        { timeout: 15_000, message: 'the tracks sent with the previous key in the debugger' },
      );
      for (const e of mine) {
        expect(e.status).toBe('accepted');
        expect(e.writeKey).toBe('previous');
      }
      await page.close();
    });
  },
);
