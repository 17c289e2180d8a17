// Headless Chromium opens a page carrying the standard Segment snippet (host swapped to Tessera):
// analytics.js, its settings and its calls must all go to the Worker, and land in the debugger.
import { randomUUID } from 'node:crypto';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snippetFor } from '../../scripts/local.mjs';
import { type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';
import { CHROMIUM, CHROMIUM_ARGS, guardBrowser, HAVE_BROWSER } from './chromium';

guardBrowser('browser e2e');

interface BrowserEvent {
  type: string;
  messageId: string;
  anonymousId?: string;
  event?: string;
  properties?: Record<string, unknown>;
  context: { library?: { name: string; version: string }; page?: { url?: string; path?: string } };
  writeKey?: string;
}

/** Serves one HTML page from a different origin than the Worker, as a customer's site would. */
const servePage = (html: string): Promise<Receiver> =>
  startReceiver((r) =>
    r.path.startsWith('/shop')
      ? { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html }
      : { status: 404 },
  );

describe.skipIf(!HAVE_BROWSER)('standard Segment snippet in Chromium → wrangler dev', () => {
  let t: Tessera;
  let site: Receiver;
  let browser: Browser;
  const run = randomUUID();

  beforeAll(async () => {
    t = await startTessera({ sourceName: 'browser e2e' });
    site = await servePage(`<!doctype html>
<html>
  <head>
    <title>Tessera e2e shop</title>
    ${snippetFor(t.url, t.writeKey)}
  </head>
  <body>
    <button id="buy" onclick="analytics.track('Clicked Button', { label: 'Buy now', run: '${run}' })">Buy now</button>
    <a id="docs" href="/docs">Docs</a>
    <!-- trackLink lives in a lazily loaded chunk: it proves chunks come from Tessera too. -->
    <script>analytics.trackLink(document.getElementById('docs'), 'Clicked Docs Link');</script>
  </body>
</html>`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await site?.stop();
    await t?.stop();
  });

  it('loads analytics.js from Tessera and delivers page and track calls', async () => {
    const page = await browser.newPage();
    const responses: { url: string; status: number }[] = [];
    const offHost: string[] = [];
    const pageErrors: string[] = [];
    // Only loopback may be reached: a request to Segment's CDN or API means the host swap leaked.
    await page.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1') return route.continue();
      offHost.push(route.request().url());
      return route.abort();
    });
    const failures: string[] = [];
    page.on('response', async (res) => {
      responses.push({ url: res.url(), status: res.status() });
      if (res.status() >= 400) {
        const body = await res.text().catch(() => '');
        failures.push(`${res.status()} ${res.url()} ← ${res.request().postData()} → ${body}`);
      }
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && pageErrors.push(msg.text()));

    await page.goto(`${site.url}/shop?run=${run}`);
    await page.click('#buy');

    const statusOf = (path: string) => responses.find((r) => r.url.split('?')[0] === `${t.url}${path}`)?.status;
    const sent = await eventually(
      () => {
        const paths = responses.map((r) => new URL(r.url)).filter((u) => u.origin === t.url);
        const p = paths.some((u) => u.pathname === '/v1/p' || u.pathname === '/v1/batch');
        const tr = paths.some((u) => u.pathname === '/v1/t' || u.pathname === '/v1/batch');
        return p && tr && paths;
      },
      { timeout: 15_000, message: `page and track requests to ${t.url}` },
    ).catch((err: Error) => {
      const seen = responses.map((r) => `${r.status} ${r.url}`).join(', ');
      throw new Error(
        `${err.message}\nseen: ${seen}\noff-host: ${offHost.join(', ')}\nerrors: ${pageErrors.join(' | ')}`,
      );
    });

    expect(offHost).toEqual([]);
    expect(failures).toEqual([]);
    expect(statusOf(`/analytics.js/v1/${t.writeKey}/analytics.min.js`)).toBe(200);
    expect(statusOf(`/v1/projects/${t.writeKey}/settings`)).toBe(200);
    const chunk = await eventually(
      () => responses.find((r) => r.url.startsWith(`${t.url}/analytics-next/bundles/auto-track.bundle.`)),
      { timeout: 5_000, message: 'the auto-track chunk loaded from Tessera' },
    );
    expect(chunk.status).toBe(200);
    for (const u of sent.filter((u) => u.pathname.startsWith('/v1/') && !u.pathname.startsWith('/v1/projects'))) {
      expect(statusOf(u.pathname), u.pathname).toBe(200);
    }

    const entries = await eventually(
      async () => {
        const mine = (await t.debuggerEvents<BrowserEvent>()).filter(
          (e) => e.event.context?.page?.url?.includes(run) || e.event.properties?.run === run,
        );
        const page = mine.find((e) => e.event.type === 'page');
        const track = mine.find((e) => e.event.type === 'track');
        return page && track && { page, track };
      },
      { timeout: 10_000, message: 'page and track from the browser in the debugger' },
    );

    for (const entry of [entries.page, entries.track]) {
      expect(entry.status, JSON.stringify(entry.error)).toBe('accepted');
      expect(entry.event.context.library?.name).toBe('analytics.js');
      expect(entry.event.context.page?.path).toBe('/shop');
      expect(entry.event.anonymousId).toBeTruthy();
      expect(entry.event.writeKey).toBeUndefined();
    }
    expect(entries.track.event.event).toBe('Clicked Button');
    expect(entries.track.event.properties).toEqual({ label: 'Buy now', run });
    expect(entries.track.event.anonymousId).toBe(entries.page.event.anonymousId);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
