import { describe, expect, it } from 'vitest';
import { changeToEvent } from './emit';
import type { Change } from './evaluate';

const change = (over: Partial<Change>): Change => ({
  kind: 'audience',
  key: 'first_time_shopper',
  id: 'aud_01J',
  version: 1,
  previous: false,
  value: true,
  emit: 'identify',
  destinationIds: ['dest_1'],
  ...over,
});
const who = { userId: 'u123', anonymousId: 'anon-1', email: 'ann@example.com' };
const opts = { spaceId: 'spa_tessera', id: '01JABC', at: Date.parse('2026-03-01T10:00:00Z') };
const personas = {
  computation_class: 'audience',
  computation_id: 'aud_01J',
  computation_key: 'first_time_shopper',
  namespace: 'spa_tessera',
  space_id: 'spa_tessera',
};

describe('changeToEvent: events as Segment Engage sends them', () => {
  it('identify with trait <key>: true on entering', () => {
    expect(changeToEvent(change({}), who, opts)).toEqual({
      type: 'identify',
      userId: 'u123',
      anonymousId: 'anon-1',
      messageId: 'personas_01JABC',
      timestamp: '2026-03-01T10:00:00.000Z',
      originalTimestamp: '2026-03-01T10:00:00.000Z',
      receivedAt: '2026-03-01T10:00:00.000Z',
      integrations: {},
      traits: { first_time_shopper: true, email: 'ann@example.com' },
      context: { library: { name: 'unknown', version: 'unknown' }, personas },
    });
  });

  it('track Audience Entered / Audience Exited with properties.audience_key', () => {
    const entered = changeToEvent(change({ emit: 'track' }), who, opts);
    expect(entered).toMatchObject({
      type: 'track',
      event: 'Audience Entered',
      properties: { audience_key: 'first_time_shopper', first_time_shopper: true },
      context: { personas, traits: { email: 'ann@example.com' } },
    });
    const exited = changeToEvent(change({ emit: 'track', previous: true, value: false }), { userId: 'u1' }, opts);
    expect(exited).toMatchObject({
      event: 'Audience Exited',
      properties: { audience_key: 'first_time_shopper', first_time_shopper: false },
    });
    expect(JSON.parse(JSON.stringify(exited))).not.toHaveProperty('anonymousId');
    expect(exited.context).not.toHaveProperty('traits');
  });

  it('computed traits: identify with the value, or track Trait Computed', () => {
    const c = change({ kind: 'computed_trait', key: 'total_revenue_180_days', id: 'tra_9', value: 450 });
    const identify = changeToEvent(c, { anonymousId: 'a' }, opts);
    expect(identify).toMatchObject({ type: 'identify', traits: { total_revenue_180_days: 450 } });
    expect(identify.context.personas).toMatchObject({ computation_class: 'trait', computation_id: 'tra_9' });
    expect(changeToEvent({ ...c, emit: 'track' }, who, opts)).toMatchObject({
      type: 'track',
      event: 'Trait Computed',
      properties: { trait_key: 'total_revenue_180_days', total_revenue_180_days: 450 },
    });
  });

  it('refuses a profile without any id', () => {
    expect(() => changeToEvent(change({}), { email: 'x@example.com' }, opts)).toThrow(/userId or an anonymousId/);
  });
});
