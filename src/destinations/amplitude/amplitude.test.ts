import { describe, expect, it } from 'vitest';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { amplitude } from './index';

const settings = { apiKey: 'amp_key' };
type Body = { api_key: string; events: Record<string, unknown>[]; options?: Record<string, unknown> };

describe('amplitude destination (HTTP V2)', () => {
  snapshotEachCallType(amplitude, settings);

  it('track → POST /2/httpapi with api_key, event_type, time (ms) and insert_id', async () => {
    const req = await mapWith(amplitude, settings, [EVENTS.track]);
    expect(req?.url).toBe('https://api2.amplitude.com/2/httpapi');
    const body = bodyOf<Body>(req);
    expect(body.api_key).toBe('amp_key');
    expect(body.events[0]).toMatchObject({
      user_id: 'user-42',
      device_id: 'anon-7f3c',
      event_type: 'Order Completed',
      time: Date.parse('2026-03-01T12:00:00.000Z'),
      insert_id: 'msg-track-1',
      ip: '203.0.113.7',
      revenue: 42.5,
      event_properties: { order_id: 'o-1001' },
    });
  });

  it('identify → $identify with user_properties.$set; group → assigns and describes the group', async () => {
    const id = bodyOf<Body>(await mapWith(amplitude, settings, [EVENTS.identify])).events[0];
    expect(id).toMatchObject({ event_type: '$identify', user_properties: { $set: { firstName: 'Ada', plan: 'pro' } } });
    const [assign, describe] = bodyOf<Body>(await mapWith(amplitude, settings, [EVENTS.group])).events;
    expect(assign).toMatchObject({ event_type: '$identify', groups: { company: 'acme' } });
    expect(describe).toMatchObject({ event_type: '$groupidentify', group_properties: { $set: { name: 'Acme Inc' } } });
    expect(assign.insert_id).not.toBe(describe.insert_id);
  });

  it('alias is not sent (no HTTP V2 equivalent); EU host and min_id_length options', async () => {
    expect(await mapWith(amplitude, settings, [EVENTS.alias])).toBeNull();
    const req = await mapWith(amplitude, { ...settings, region: 'EU', minIdLength: 1 }, [EVENTS.page]);
    expect(req?.url).toBe('https://api.eu.amplitude.com/2/httpapi');
    const body = bodyOf<Body>(req);
    expect(body.options).toEqual({ min_id_length: 1 });
    expect(body.events[0].event_type).toBe('Viewed Pricing Page');
  });
});
