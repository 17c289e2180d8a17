import { describe, expect, it } from 'vitest';
import { decodeEventCursor, encodeEventCursor, eventView, linkView } from './views';

describe('Profile API views', () => {
  it('round-trips event cursors and rejects foreign ones', () => {
    const c = encodeEventCursor(1700000000000, 'ajs-1:2');
    expect(decodeEventCursor(c)).toEqual({ ts: 1700000000000, messageId: 'ajs-1:2' });
    expect(decodeEventCursor('%%%')).toBeUndefined();
    expect(decodeEventCursor(btoa('nope'))).toBeUndefined();
  });

  it("shapes an event like Segment's /events", () => {
    const body = JSON.stringify({
      type: 'track',
      event: 'Order Completed',
      userId: 'u1',
      anonymousId: 'a1',
      messageId: 'm1',
      properties: { revenue: 1 },
      context: { ip: '1.2.3.4' },
    });
    const view = eventView(
      { messageId: 'm1', ts: 0, type: 'track', name: 'Order Completed', sourceId: 'src', body },
      'use_X',
      'users',
    );
    expect(view).toEqual({
      external_ids: [
        { collection: 'users', type: 'user_id', id: 'u1', encoding: 'none' },
        { collection: 'users', type: 'anonymous_id', id: 'a1', encoding: 'none' },
      ],
      context: { ip: '1.2.3.4' },
      type: 'track',
      message_id: 'm1',
      source_id: 'src',
      timestamp: '1970-01-01T00:00:00.000Z',
      event: 'Order Completed',
      properties: { revenue: 1 },
      related: { users: 'use_X' },
    });
  });

  it('lists a link with its external id', () => {
    expect(linkView({ collection: 'accounts', key: 'group_id:acme', source_id: 's', created_at: 't' })).toEqual({
      to_collection: 'accounts',
      external_ids: [
        { id: 'acme', type: 'group_id', source_id: 's', collection: 'accounts', created_at: 't', encoding: 'none' },
      ],
    });
  });
});
