import { describe, expect, it } from 'vitest';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { ga4 } from './index';
import { ga4Name } from './mapping';

const settings = { measurementId: 'G-ABC123', apiSecret: 'mp_secret' };
type Body = {
  client_id: string;
  user_id?: string;
  timestamp_micros: number;
  user_properties?: Record<string, { value: unknown }>;
  events: { name: string; params: Record<string, unknown> }[];
};

describe('google analytics 4 destination (Measurement Protocol)', () => {
  snapshotEachCallType(ga4, settings);

  it('POSTs to /mp/collect with measurement_id and api_secret in the query', async () => {
    const req = await mapWith(ga4, settings, [EVENTS.track]);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123&api_secret=mp_secret');
  });

  it('Order Completed → purchase with currency, value, transaction_id and items', async () => {
    const body = bodyOf<Body>(await mapWith(ga4, settings, [EVENTS.track]));
    expect(body.client_id).toBe('anon-7f3c');
    expect(body.user_id).toBe('user-42');
    expect(body.timestamp_micros).toBe(Date.parse('2026-03-01T12:00:00.000Z') * 1000);
    // Traits ride along as user_properties, without PII (Google's policy forbids it).
    expect(body.user_properties).toEqual({ plan: { value: 'pro' } });
    expect(body.events[0]).toMatchObject({
      name: 'purchase',
      params: {
        currency: 'EUR',
        value: 42.5,
        transaction_id: 'o-1001',
        items: [{ item_id: 'sku-1', item_name: 'Mug', price: 21.25, quantity: 2 }],
      },
    });
  });

  it('page → page_view with page_location, page_title and page_referrer', async () => {
    const body = bodyOf<Body>(await mapWith(ga4, settings, [EVENTS.page]));
    expect(body.events[0]).toMatchObject({
      name: 'page_view',
      params: {
        page_location: 'https://shop.example/pricing',
        page_title: 'Pricing',
        page_referrer: 'https://news.example/',
      },
    });
  });

  it('identify, group and alias have no Measurement Protocol call', async () => {
    for (const t of ['identify', 'group', 'alias'] as const)
      expect(await mapWith(ga4, settings, [EVENTS[t]])).toBeNull();
  });

  it('names follow GA4 rules: snake_case, starts with a letter, at most 40 characters', () => {
    expect(ga4Name('Video Playback Started')).toBe('video_playback_started');
    expect(ga4Name('signUpCompleted')).toBe('sign_up_completed');
    expect(ga4Name('3D view')).toBe('event_3d_view');
    expect(ga4Name('x'.repeat(60))).toHaveLength(40);
    expect(ga4.settings.safeParse({ measurementId: 'UA-1', apiSecret: 's' }).success).toBe(false);
  });
});
