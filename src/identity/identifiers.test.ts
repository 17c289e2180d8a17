import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../ingest/spec';
import { extractIdentifiers, keyOf, normalizeValue, parseKey, previousIdOf } from './identifiers';

const ev = (e: Record<string, unknown>) =>
  ({ messageId: 'm', timestamp: '', receivedAt: '', originalTimestamp: '', context: {}, ...e }) as EnrichedEvent;
const keys = (e: Record<string, unknown>, c: 'users' | 'accounts' = 'users') => extractIdentifiers(ev(e), c).map(keyOf);

describe('extractIdentifiers', () => {
  it('reads userId, anonymousId and email (trimmed, lower-cased) in reading order', () => {
    expect(
      keys({ type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { email: '  Jane@Example.COM ' } }),
    ).toEqual(['user_id:u1', 'email:jane@example.com', 'anonymous_id:a1']);
  });

  it('takes email from context.traits on any call, but traits.email only from identify', () => {
    expect(keys({ type: 'track', event: 'E', anonymousId: 'a', context: { traits: { email: 'x@y.z' } } })).toContain(
      'email:x@y.z',
    );
    expect(keys({ type: 'group', groupId: 'g', anonymousId: 'a', traits: { email: 'org@y.z' } })).not.toContain(
      'email:org@y.z',
    );
  });

  it('reads ios.idfa without adTrackingEnabled, android.idfa only with it', () => {
    const ios = { id: 'i1', advertisingId: 'ad-ios', type: 'ios' };
    expect(keys({ type: 'track', event: 'E', anonymousId: 'a', context: { device: ios } })).toContain(
      'ios.idfa:ad-ios',
    );
    const off = { ...ios, adTrackingEnabled: false };
    expect(keys({ type: 'track', event: 'E', anonymousId: 'a', context: { device: off } })).toContain(
      'ios.idfa:ad-ios',
    );
    const android = { id: 'a1', advertisingId: 'ad-and', type: 'android' };
    expect(keys({ type: 'track', event: 'E', anonymousId: 'a', context: { device: android } })).not.toContain(
      'android.idfa:ad-and',
    );
  });

  it('picks up properties.phone on a track call, as Segment documents', () => {
    const track = { type: 'track', event: 'Subscription Upgraded', anonymousId: 'a' };
    expect(keys({ ...track, properties: { plan: 'Pro', phone: '123-456-7890' } })).toEqual([
      'phone:1234567890',
      'anonymous_id:a',
    ]);
    // traits and context.traits come first; other calls' properties are not identifiers.
    expect(
      keys({ ...track, properties: { phone: '111' }, context: { traits: { phone: '222' } } }).filter((k) =>
        k.startsWith('phone:'),
      ),
    ).toEqual(['phone:222']);
    expect(keys({ type: 'page', name: 'P', anonymousId: 'a', properties: { phone: '333' } })).toEqual([
      'anonymous_id:a',
    ]);
  });

  it('reads device ids the way Segment does: device id, idfa, push token', () => {
    const device = { id: 'dev1', advertisingId: 'ad1', adTrackingEnabled: true, token: 'tok1', type: 'ios' };
    expect(keys({ type: 'screen', anonymousId: 'a', context: { device } })).toEqual([
      'anonymous_id:a',
      'ios.id:dev1',
      'ios.idfa:ad1',
      'ios.push_token:tok1',
    ]);
    const android = { id: 'd2', advertisingId: 'ad2', adTrackingEnabled: false };
    expect(
      keys({ type: 'track', event: 'E', anonymousId: 'a', context: { device: android, os: { name: 'Android' } } }),
    ).toEqual(['anonymous_id:a', 'android.id:d2']);
    expect(keys({ type: 'track', event: 'E', anonymousId: 'a', context: { device: { id: 'd3' } } })).toEqual([
      'anonymous_id:a',
    ]);
  });

  it('reads ga_client_id, phone and custom externalIds of the right collection', () => {
    const e = {
      type: 'identify',
      userId: 42,
      traits: { phone: '+1 (555) 010-2030' },
      integrations: { 'Google Analytics': { clientId: '123.456' } },
      context: {
        externalIds: [
          { id: 'S-1', type: 'shopify_id', collection: 'users', encoding: 'none' },
          { id: 'ACME', type: 'crm_account', collection: 'accounts', encoding: 'none' },
          { id: 'x', type: 'bad type!' },
          { id: 'g9', type: 'group_id', collection: 'users' },
          { id: '', type: 'empty' },
        ],
      },
    };
    expect(keys(e)).toEqual(['user_id:42', 'phone:+15550102030', 'ga_client_id:123.456', 'shopify_id:S-1']);
    expect(keys({ ...e, type: 'group', groupId: 'g1' }, 'accounts')).toEqual(['group_id:g1', 'crm_account:ACME']);
  });

  it('ignores duplicates, empty and non-string values', () => {
    expect(keys({ type: 'identify', userId: ' ', anonymousId: 'a', traits: { email: 7 } })).toEqual(['anonymous_id:a']);
    expect(normalizeValue('user_id', { a: 1 })).toBeUndefined();
    expect(normalizeValue('user_id', 'x'.repeat(1025))).toBeUndefined();
  });

  it('parses keys at the first colon and reads alias previousId', () => {
    expect(parseKey('email:a:b@c')).toEqual({ kind: 'email', value: 'a:b@c' });
    expect(parseKey('nocolon')).toBeUndefined();
    expect(previousIdOf(ev({ type: 'alias', previousId: 'old', userId: 'new' }))).toBe('old');
    expect(previousIdOf(ev({ type: 'track', event: 'E', userId: 'new' }))).toBeUndefined();
  });
});
