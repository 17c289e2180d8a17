// The console in Debian's Chromium against `wrangler dev`: every page loads without a console
// error (screenshots in test-results/console/), and the key flows work end to end: sign in, create
// a source, see an @segment/analytics-node event arrive in the live debugger without reloading,
// look a profile up and see its identity graph, build an audience (size preview, members), open a
// failing destination's health and replay its dead letters; hostile event values run nothing.
import { mkdirSync } from 'node:fs';
import { Analytics } from '@segment/analytics-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';
import { CHROMIUM, CHROMIUM_ARGS, guardBrowser, HAVE_BROWSER } from './chromium';

guardBrowser('console e2e');

const SHOTS = 'test-results/console';
const XSS_NAME = '<img src=x onerror=window.__xss=1>';
const XSS_PROP = '</script><script>window.__xss=2</script><img src=x onerror=window.__xss=3>';

describe.skipIf(!HAVE_BROWSER)('console in Chromium', () => {
  let t: Tessera;
  let browser: Browser;
  let page: Page;
  let vendor: Receiver;
  let vendorStatus = 400;
  const problems: string[] = [];

  const send = async (writeKey: string, calls: (a: Analytics) => void) => {
    const a = new Analytics({ writeKey, host: t.url, flushAt: 1, maxEventsInBatch: 20 });
    calls(a);
    await a.closeAndFlush({ timeout: 10_000 });
  };
  const open = async (hash: string, ready: string) => {
    await page.goto(`${t.url}/#/${hash}`);
    await page.locator(ready).first().waitFor({ timeout: 15_000 });
  };
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    vendor = await startReceiver(() => ({
      status: vendorStatus,
      body: vendorStatus === 200 ? 'ok' : '{"error":"bad api key"}',
    }));
    t = await startTessera({ sourceName: 'console e2e main' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await vendor?.stop();
  });

  it('signs in with a token kept in an HttpOnly cookie, not readable by script', async () => {
    await page.goto(`${t.url}/`);
    await page.fill('#token', t.adminToken);
    await page.click('#login button');
    await page.locator('#page-overview').waitFor();
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }))).not.toContain(
      t.adminToken,
    );
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === '__Host-tessera_session')).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    });
    await shot('overview');
  });

  it('creates a source, and an analytics-node event appears in its live debugger without a reload', async () => {
    await open('sources', '#create-source');
    await page.fill('#source-name', 'Checkout');
    await page.click('#create-source button');
    await page.locator('#live-status.ok').waitFor({ timeout: 15_000 });
    const writeKey = (await page.locator('#write-key-value').textContent()) ?? '';
    expect(writeKey).not.toBe('');
    await page.evaluate('window.marker = 42');
    const started = Date.now();
    await send(writeKey, (a) => a.track({ userId: 'live-user', event: 'Live Event', properties: { n: 1 } }));
    await page.locator('#events tr', { hasText: 'Live Event' }).waitFor({ timeout: 10_000 });
    const latency = Date.now() - started;
    // Still the same document: the row came over the WebSocket, not from a reload.
    expect(await page.evaluate('window.marker')).toBe(42);
    console.log(`live debugger: event shown ${latency} ms after analytics-node was asked to send it`);
    await page.locator('#events tr', { hasText: 'Live Event' }).click();
    expect(await page.locator('#inspector pre').textContent()).toContain('"live-user"');
    await shot('source-debugger');
    await page.goBack();
    await page.locator('#create-source').waitFor();
    expect(page.url()).toContain('#/sources');
  });

  it('looks a profile up and draws its identity graph, merges included', async () => {
    await send(t.writeKey, (a) => {
      a.track({ anonymousId: 'anon-graph', event: 'Viewed', properties: { plan: 'pro' } });
    });
    await send(t.writeKey, (a) => {
      a.identify({
        userId: 'graph-user',
        anonymousId: 'anon-graph',
        traits: { email: 'graph@example.com', plan: 'pro' },
      });
      a.track({ userId: 'graph-user', event: 'Bought', properties: { total: 30 } });
    });
    await eventually(async () => (await t.admin<{ data: unknown[] }>('/api/profiles?q=graph-user')).data.length > 0, {
      timeout: 20_000,
      message: 'profile in the directory',
    });
    await open('profiles', '#profile-search');
    await page.fill('#profile-q', 'graph-user');
    await page.click('#profile-search button');
    await page.locator('a.profile-link').first().click();
    await page.locator('#identity-graph').waitFor();
    const labels = await page.locator('#identity-graph .graph-identifier text').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['user_id: graph-user', 'email: graph@example.com']));
    expect(
      labels.some((l) => l.startsWith('anonymous_id: anon-graph')) || (await page.locator('.graph-merge').count()) > 0,
    ).toBe(true);
    await shot('profile');
  });

  it('builds an audience: live size preview, then its members', async () => {
    await open('audiences/new', '#aud-form');
    await page.fill('#aud-name', 'Pro users');
    await page.fill('#aud-key', 'pro_users');
    // The root is an AND group with one condition: make it a trait condition plan = "pro".
    await page.locator('.cond .cond .cond-kind').first().selectOption('trait');
    await page.locator('.cond-trait').first().fill('plan');
    await page.locator('.cond-value').first().fill('"pro"');
    await expect
      .poll(async () => Number(await page.locator('#aud-estimate').textContent()), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    await shot('audience-builder');
    await page.click('#aud-save');
    await page.locator('#aud-size').waitFor();
    await eventually(
      async () => {
        await page.reload();
        await page.locator('#members').waitFor();
        return (await page.locator('#members a').count()) > 0;
      },
      { timeout: 30_000, interval: 1000, message: 'audience members listed' },
    );
    await shot('audience');
  });

  it("shows a failing destination's errors with the vendor's answer, and replays them", async () => {
    const dest = await t.admin<{ id: string }>('/api/destinations', {
      method: 'POST',
      body: { type: 'webhook', name: 'Failing hook', sourceIds: [t.sourceId], settings: { url: `${vendor.url}/hook` } },
    });
    await send(t.writeKey, (a) => a.track({ userId: 'graph-user', event: 'Will Fail' }));
    await eventually(
      async () => (await t.admin<{ data: unknown[] }>(`/api/destinations/${dest.id}/failures`)).data.length > 0,
      {
        timeout: 30_000,
        message: 'a dead letter',
      },
    );
    await open(`destinations/${dest.id}`, '#failures');
    expect(await page.locator('#failures tbody').textContent()).toContain('bad api key');
    expect(await page.locator('[data-metric="failed"] b').textContent()).not.toBe('0');
    await shot('destination-health');
    vendorStatus = 200;
    const before = vendor.acked().length;
    await page.click('#replay-all');
    await page.locator('#replay-progress .progress').waitFor();
    await eventually(() => vendor.acked().length > before, {
      timeout: 30_000,
      message: 'the replayed event delivered',
    });
    await expect.poll(() => page.locator('#replay-count').textContent(), { timeout: 30_000 }).toContain('1 / 1');
    await shot('destination-replayed');
  });

  it('answers trends, funnels and retention in their pages, saves a report to the dashboard', async () => {
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    const funnel = { steps: [{ event: 'Viewed' }, { event: 'Bought' }], within: '7d', from, to };
    await eventually(
      async () => {
        const r = await t.adminFetch('/api/insights/funnel', { method: 'POST', body: funnel });
        const body = (await r.json()) as { steps: { users: number }[] };
        return body.steps?.[1]?.users === 1;
      },
      { timeout: 20_000, message: 'funnel rollups' },
    );
    await open(`funnel?q=${encodeURIComponent(JSON.stringify(funnel))}`, '#report-result table.result');
    // The anonymous view and the logged-in purchase are one user.
    expect(await page.locator('#report-result table.result tbody tr').nth(1).locator('td').nth(1).textContent()).toBe(
      '1',
    );
    await page.fill('#report-name', 'View to buy');
    await page.click('#save-report');
    await page.locator('text=Saved.').waitFor();
    await shot('funnel');
    const trends = { event: 'Viewed', interval: 'day', measure: 'users', from, to };
    await open(`trends?q=${encodeURIComponent(JSON.stringify(trends))}`, '#report-result table.result');
    await shot('trends');
    const retention = { startEvent: 'Viewed', returnEvent: 'Bought', interval: 'day', from, to };
    await open(`retention?q=${encodeURIComponent(JSON.stringify(retention))}`, '#report-result table.result');
    await shot('retention');
    await open('dashboard', '.report table.result');
    expect(await page.locator('.report h3').allTextContents()).toContain('View to buy');
    await shot('dashboard');
  });

  it('renders hostile event names and properties as text on every page, executing nothing', async () => {
    await send(t.writeKey, (a) => {
      a.track({ userId: 'xss-user', event: XSS_NAME, properties: { note: XSS_PROP, [XSS_NAME]: XSS_PROP } });
      a.identify({ userId: 'xss-user', traits: { name: XSS_PROP, plan: XSS_NAME } });
    });
    await eventually(async () => (await t.admin<{ data: unknown[] }>('/api/profiles?q=xss-user')).data.length > 0, {
      timeout: 20_000,
      message: 'hostile profile',
    });
    const profile = (await t.admin<{ data: { id: string }[] }>('/api/profiles?q=xss-user')).data[0];
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    const pages: [string, string][] = [
      ['overview?hours=1', '#volume-chart'],
      [`sources/${t.sourceId}`, '#events tr'],
      ['profiles?q=xss-user', 'a.profile-link'],
      [`profiles/${profile.id}`, '#identity-graph'],
      [
        `trends?q=${encodeURIComponent(JSON.stringify({ event: XSS_NAME, interval: 'day', breakdown: 'properties.note', from, to }))}`,
        '#report-result table.result',
      ],
      [
        `funnel?q=${encodeURIComponent(JSON.stringify({ steps: [{ event: XSS_NAME }, { event: XSS_NAME }], within: '1d', breakdown: 'properties.note', from, to }))}`,
        '#report-result table.result',
      ],
      [
        `retention?q=${encodeURIComponent(JSON.stringify({ startEvent: XSS_NAME, returnEvent: XSS_NAME, interval: 'day', from, to }))}`,
        '#report-result table.result',
      ],
      ['audiences', '#page-audiences table'],
      ['audiences/pro_users', '#members'],
      ['sources', '#create-source'],
      ['destinations', '#page-destinations table'],
      ['dashboard', '#page-dashboard h2'],
      ['tokens', '#page-tokens table'],
      ['audit', '#audit table'],
      ['tracking-plans', '#page-tracking-plans table'],
      ['privacy', '#page-privacy h2'],
    ];
    for (const [hash, ready] of pages) {
      await open(hash, ready);
      if (hash.startsWith('sources/')) await page.locator('#events tr', { hasText: XSS_NAME }).first().click();
      if (hash.startsWith('profiles/')) await page.locator('#timeline tbody tr').first().click();
      await shot(`page-${hash.split(/[?/]/)[0]}${hash.includes('/') ? '-detail' : ''}`);
      expect(await page.evaluate('window.__xss'), hash).toBeUndefined();
      expect(await page.locator('img[src="x"]').count(), hash).toBe(0);
      expect(await page.locator('main script').count(), hash).toBe(0);
    }
    // The hostile strings are there, as text.
    await open(`sources/${t.sourceId}`, '#events tr');
    expect(await page.locator('#events').textContent()).toContain(XSS_NAME);
    await shot('xss-debugger');
  });

  it('loaded every page without a console error or dialog', () => {
    expect(problems).toEqual([]);
  });
});
