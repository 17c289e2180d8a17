import { describe, expect, it } from 'vitest';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { posthog } from './index';

const settings = { apiKey: 'phc_test' };
type Item = { event: string; timestamp: string; uuid?: string; properties: Record<string, unknown> };
type Body = { api_key: string; batch: Item[] };
const one = async (type: keyof typeof EVENTS, s: object = settings) =>
  bodyOf<Body>(await mapWith(posthog, s, [EVENTS[type]])).batch[0];

describe('posthog destination', () => {
  snapshotEachCallType(posthog, settings);

  it('POSTs {api_key, batch} to <host>/batch/', async () => {
    const req = await mapWith(posthog, { ...settings, host: 'https://eu.i.posthog.com' }, [EVENTS.track, EVENTS.page]);
    expect(req?.url).toBe('https://eu.i.posthog.com/batch/');
    const body = bodyOf<Body>(req);
    expect(body.api_key).toBe('phc_test');
    expect(body.batch.map((b) => b.event)).toEqual(['Order Completed', '$pageview']);
  });

  it('track keeps properties with distinct_id and timestamp', async () => {
    const item = await one('track');
    expect(item.timestamp).toBe('2026-03-01T12:00:00.000Z');
    expect(item.properties).toMatchObject({ distinct_id: 'user-42', $ip: '203.0.113.7', order_id: 'o-1001' });
    expect(item.uuid).toBeUndefined();
  });

  it('identify → $identify with $set and $anon_distinct_id; page → $pageview with $current_url', async () => {
    expect(await one('identify')).toMatchObject({
      event: '$identify',
      properties: { distinct_id: 'user-42', $anon_distinct_id: 'anon-7f3c', $set: { firstName: 'Ada' } },
    });
    expect((await one('page')).properties).toMatchObject({
      $current_url: 'https://shop.example/pricing?utm_source=news',
    });
  });

  it('group → $groupidentify; alias → $create_alias', async () => {
    expect(await one('group')).toMatchObject({
      event: '$groupidentify',
      properties: { $group_type: 'company', $group_key: 'acme', $group_set: { name: 'Acme Inc' } },
    });
    expect(await one('alias')).toMatchObject({
      event: '$create_alias',
      properties: { distinct_id: 'user-42', alias: 'anon-7f3c' },
    });
  });

  it('uses a UUID messageId as uuid (PostHog dedupes on it)', async () => {
    const uuid = '8f14e45f-ceea-4e7a-9b1f-2d5c0a1b3c4d';
    const req = await mapWith(posthog, settings, [{ ...EVENTS.track, messageId: uuid }]);
    expect(bodyOf<Body>(req).batch[0].uuid).toBe(uuid);
  });
});
