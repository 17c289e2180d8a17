import { describe, expect, it } from 'vitest';
import { PermanentError } from '../errors';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { mixpanel } from './index';
import { mixpanelBodyError } from './mapping';

const settings = { projectToken: 'tok_123', apiSecret: 'secret_abc', region: 'US' };
type Rec = Record<string, unknown>;

describe('mixpanel destination', () => {
  snapshotEachCallType(mixpanel, settings);

  it('track → /import?strict=1 with time in ms, distinct_id, $insert_id and Basic auth', async () => {
    const req = await mapWith(mixpanel, settings, [EVENTS.track]);
    expect(req?.url).toBe('https://api.mixpanel.com/import?strict=1');
    expect(req?.headers.authorization).toBe(`Basic ${btoa('secret_abc:')}`);
    const [e] = bodyOf<{ event: string; properties: Rec }[]>(req);
    expect(e.event).toBe('Order Completed');
    expect(e.properties).toMatchObject({
      time: Date.parse('2026-03-01T12:00:00.000Z'),
      distinct_id: 'user-42',
      $insert_id: 'msg-track-1',
      $device_id: 'anon-7f3c',
      $user_id: 'user-42',
      ip: '203.0.113.7',
      utm_campaign: 'spring',
      revenue: 42.5,
    });
  });

  it('page → "Viewed <name> Page"; identify → /engage $set with reserved names', async () => {
    const [page] = bodyOf<{ event: string }[]>(await mapWith(mixpanel, settings, [EVENTS.page]));
    expect(page.event).toBe('Viewed Pricing Page');
    const req = await mapWith(mixpanel, settings, [EVENTS.identify]);
    expect(req?.url).toBe('https://api.mixpanel.com/engage?verbose=1');
    const [u] = bodyOf<Rec[]>(req);
    expect(u).toMatchObject({ $token: 'tok_123', $distinct_id: 'user-42', $ip: '203.0.113.7' });
    expect(u.$set).toMatchObject({
      $email: 'ada@example.com',
      $first_name: 'Ada',
      $last_name: 'Lovelace',
      plan: 'pro',
    });
  });

  it('group → /groups with the configured group key; alias → $merge', async () => {
    const [g] = bodyOf<Rec[]>(await mapWith(mixpanel, { ...settings, groupKey: 'company_id' }, [EVENTS.group]));
    expect(g).toMatchObject({ $group_key: 'company_id', $group_id: 'acme', $set: { name: 'Acme Inc' } });
    const [a] = bodyOf<{ event: string; properties: Rec }[]>(await mapWith(mixpanel, settings, [EVENTS.alias]));
    expect(a).toEqual({ event: '$merge', properties: { $distinct_ids: ['user-42', 'anon-7f3c'], token: 'tok_123' } });
  });

  it('uses the EU host, the token as Basic user without a secret, and refuses alias without a secret', async () => {
    const eu = { projectToken: 'tok_123', region: 'EU' };
    const req = await mapWith(mixpanel, eu, [EVENTS.track]);
    expect(req?.url).toBe('https://api-eu.mixpanel.com/import?strict=1');
    expect(req?.headers.authorization).toBe(`Basic ${btoa('tok_123:')}`);
    await expect(async () => mapWith(mixpanel, eu, [EVENTS.alias])).rejects.toBeInstanceOf(PermanentError);
  });

  it('batches events of one endpoint and reads errors hidden in 200 answers', async () => {
    expect(mixpanel.batchKey?.(EVENTS.track, {})).toBe(mixpanel.batchKey?.(EVENTS.page, {}));
    expect(mixpanel.batchKey?.(EVENTS.track, {})).not.toBe(mixpanel.batchKey?.(EVENTS.identify, {}));
    const answer = (body: string) => ({ status: 200, headers: new Headers(), body });
    expect(mixpanelBodyError(answer('{"status":0,"error":"bad token"}'))).toBe('bad token');
    expect(mixpanelBodyError(answer('{"status":1,"error":null}'))).toBeUndefined();
  });
});
