// The console's debugger in a real headless Chromium: a source with a tracking plan shows a
// blocked event as blocked, with its violations, and every value from the event stays text.
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type Tessera } from '../kit/tessera';
import { CHROMIUM, CHROMIUM_ARGS, guardBrowser, HAVE_BROWSER } from './chromium';

guardBrowser('console e2e');

describe.skipIf(!HAVE_BROWSER)('console debugger in Chromium', () => {
  let t: Tessera;
  let browser: Browser;
  beforeAll(async () => {
    t = await startTessera({ sourceName: 'console e2e' });
    const plan = await t.admin<{ id: string }>('/api/tracking-plans', {
      method: 'POST',
      body: {
        name: 'Console plan',
        rules: [
          {
            type: 'TRACK',
            key: 'Order Completed',
            jsonSchema: { type: 'object', properties: { properties: { type: 'object', required: ['total'] } } },
          },
        ],
      },
    });
    await t.admin(`/api/tracking-plans/${plan.id}/sources`, { method: 'POST', body: { sourceId: t.sourceId } });
    await t.admin(`/api/sources/${t.sourceId}/schema-settings`, {
      method: 'PUT',
      body: { track: { allowEventOnViolations: false } },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows a blocked event with its violations, rendering event values as text', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${t.url}/`);
    await page.fill('#token', t.adminToken);
    await page.click('#login button');
    await page.locator('#page-overview').waitFor();
    await page.goto(`${t.url}/#/sources`);
    await page.locator('a.source-link', { hasText: 'console e2e' }).click();
    await page.locator('#live-status.ok').waitFor();

    const hostile = '<img src=x onerror=alert(1)>';
    const res = await fetch(`${t.url}/v1/track`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${t.writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({ userId: 'console-user', event: 'Order Completed', properties: { note: hostile } }),
    });
    expect(res.status).toBe(200);

    const row = page.locator('#events tr', { hasText: 'blocked' });
    await row.first().waitFor({ timeout: 15_000 });
    await expect
      .poll(() => row.first().locator('ul.violations li').allTextContents())
      .toEqual([expect.stringMatching(/^Required properties\.total: /)]);
    expect(await row.first().locator('td').nth(3).getAttribute('class')).toBe('rejected');
    // The hostile property is shown as text inside the event's JSON, never as an element.
    await row.first().click();
    expect(await page.locator('#inspector pre').textContent()).toContain(hostile);
    expect(await page.locator('#events img, #inspector img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });
});
