import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../../ingest/spec';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { braze } from './index';

const settings = { apiKey: 'braze_key', restEndpoint: 'https://rest.iad-01.braze.com', appId: 'app-1' };
type Rec = Record<string, unknown>;
type Track = { attributes?: Rec[]; events?: Rec[]; purchases?: Rec[] };

describe('braze destination (/users/track)', () => {
  snapshotEachCallType(braze, settings);

  it('identify → attributes with external_id and standard names, Bearer auth', async () => {
    const req = await mapWith(braze, settings, [EVENTS.identify]);
    expect(req?.url).toBe('https://rest.iad-01.braze.com/users/track');
    expect(req?.headers.authorization).toBe('Bearer braze_key');
    expect(bodyOf<Track>(req).attributes?.[0]).toMatchObject({
      external_id: 'user-42',
      email: 'ada@example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
      plan: 'pro',
    });
  });

  it('Order Completed → purchases per product; other tracks → events with ISO time', async () => {
    const order = bodyOf<Track>(await mapWith(braze, settings, [EVENTS.track]));
    expect(order.purchases?.[0]).toMatchObject({
      external_id: 'user-42',
      product_id: 'sku-1',
      currency: 'EUR',
      price: 21.25,
      quantity: 2,
      time: '2026-03-01T12:00:00.000Z',
    });
    const other = { ...EVENTS.track, event: 'Video Played', properties: { length: 30 } } as EnrichedEvent;
    const body = bodyOf<Track>(await mapWith(braze, settings, [other]));
    expect(body.events?.[0]).toMatchObject({ name: 'Video Played', app_id: 'app-1', properties: { length: 30 } });
    expect(body.purchases).toBeUndefined();
  });

  it('anonymous users are user aliases; alias → /users/identify gives them the external_id', async () => {
    const anon = { ...EVENTS.page, userId: undefined } as EnrichedEvent;
    expect(bodyOf<Track>(await mapWith(braze, settings, [anon])).events?.[0]).toMatchObject({
      user_alias: { alias_name: 'anon-7f3c', alias_label: 'anonymous_id' },
      _update_existing_only: false,
      name: 'Viewed Pricing Page',
    });
    const req = await mapWith(braze, settings, [EVENTS.alias]);
    expect(req?.url).toBe('https://rest.iad-01.braze.com/users/identify');
    expect(bodyOf(req)).toEqual({
      aliases_to_identify: [
        { external_id: 'user-42', user_alias: { alias_name: 'anon-7f3c', alias_label: 'anonymous_id' } },
      ],
    });
  });

  it('group → ab_segment_group_<groupId> attribute; mixed events share one request', async () => {
    const body = bodyOf<Track>(await mapWith(braze, settings, [EVENTS.group, EVENTS.identify, EVENTS.page]));
    expect(body.attributes?.[0]).toEqual({ external_id: 'user-42', ab_segment_group_acme: true });
    expect(body.attributes).toHaveLength(2);
    expect(body.events).toHaveLength(1);
  });
});
