import { describe, expect, it } from 'vitest';
import type { Change } from '../../audiences/evaluate';
import { engageEvents } from './engage-events';

const change = (over: Partial<Change> = {}): Change => ({
  kind: 'audience',
  key: 'big_accounts',
  id: 'aud_1',
  version: 1,
  previous: false,
  value: true,
  emit: 'identify',
  destinationIds: ['d1'],
  ...over,
});
const opts = { spaceId: 'default', id: 'x1', at: Date.parse('2026-03-01T10:00:00Z') };

describe('engageEvents', () => {
  it('sends nothing for a user profile without userId or anonymousId', () => {
    expect(engageEvents(change(), { email: 'a@b.c', linkedUsers: [] }, 'users', opts)).toEqual([]);
  });

  it('sends an account result as a group call per linked user (identify mode)', () => {
    const who = { groupId: 'acme', linkedUsers: ['user_id:u1', 'anonymous_id:a2', 'email:x@y.z'] };
    const events = engageEvents(change(), who, 'accounts', opts);
    expect(events.map((e) => [e.type, e.userId, e.anonymousId, e.messageId])).toEqual([
      ['group', 'u1', undefined, 'personas_x1_0'],
      ['group', undefined, 'a2', 'personas_x1_1'],
    ]);
    expect(events[0]).toMatchObject({
      groupId: 'acme',
      traits: { big_accounts: true },
      context: { personas: { computation_class: 'audience', computation_key: 'big_accounts' } },
    });
  });

  it('sends an account result as track with context.groupId (track mode)', () => {
    const who = { groupId: 'acme', linkedUsers: ['user_id:u1'] };
    const [event] = engageEvents(change({ emit: 'track', value: false }), who, 'accounts', opts);
    expect(event).toMatchObject({
      type: 'track',
      event: 'Audience Exited',
      userId: 'u1',
      properties: { audience_key: 'big_accounts', big_accounts: false },
      context: { groupId: 'acme' },
    });
  });

  it('sends nothing for an account nobody is linked to', () => {
    expect(engageEvents(change(), { groupId: 'acme', linkedUsers: [] }, 'accounts', opts)).toEqual([]);
  });
});
