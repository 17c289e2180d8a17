import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../../ingest/spec';
import { PermanentError } from '../errors';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { customerio } from './index';

const settings = { siteId: 'site1', apiKey: 'cio_key' };
const auth = `Basic ${btoa('site1:cio_key')}`;

describe('customer.io destination (Track API)', () => {
  snapshotEachCallType(customerio, settings);

  it('identify → PUT /api/v1/customers/{id} with attributes and created_at in seconds', async () => {
    const req = await mapWith(customerio, settings, [EVENTS.identify]);
    expect(req?.method).toBe('PUT');
    expect(req?.url).toBe('https://track.customer.io/api/v1/customers/user-42');
    expect(req?.headers.authorization).toBe(auth);
    expect(bodyOf(req)).toMatchObject({ email: 'ada@example.com', firstName: 'Ada', created_at: 1766570400 });
  });

  it('track → POST /customers/{id}/events {name, data, timestamp}; anonymous → /api/v1/events', async () => {
    const req = await mapWith(customerio, settings, [EVENTS.track]);
    expect(req?.url).toBe('https://track.customer.io/api/v1/customers/user-42/events');
    expect(bodyOf(req)).toMatchObject({ name: 'Order Completed', data: { order_id: 'o-1001' }, timestamp: 1772366400 });
    const anon = { ...EVENTS.track, userId: undefined } as EnrichedEvent;
    const anonReq = await mapWith(customerio, settings, [anon]);
    expect(anonReq?.url).toBe('https://track.customer.io/api/v1/events');
    expect(bodyOf(anonReq)).toMatchObject({ anonymous_id: 'anon-7f3c', name: 'Order Completed' });
  });

  it('page → a page event named by its URL; group → v2 object; alias → merge_customers', async () => {
    expect(bodyOf(await mapWith(customerio, settings, [EVENTS.page]))).toMatchObject({
      type: 'page',
      name: 'https://shop.example/pricing?utm_source=news',
    });
    const group = await mapWith(customerio, settings, [EVENTS.group]);
    expect(group?.url).toBe('https://track.customer.io/api/v2/entity');
    expect(bodyOf(group)).toMatchObject({
      type: 'object',
      action: 'identify',
      identifiers: { object_type_id: '1', object_id: 'acme' },
      cio_relationships: [{ identifiers: { id: 'user-42' } }],
    });
    const alias = await mapWith(customerio, { ...settings, region: 'EU' }, [EVENTS.alias]);
    expect(alias?.url).toBe('https://track-eu.customer.io/api/v1/merge_customers');
    expect(bodyOf(alias)).toEqual({ primary: { id: 'user-42' }, secondary: { id: 'anon-7f3c' } });
  });

  it('refuses an identify without userId or email (permanent: retrying cannot fix it)', async () => {
    const anon = { ...EVENTS.identify, userId: undefined, traits: { plan: 'pro' } } as EnrichedEvent;
    await expect(async () => mapWith(customerio, settings, [anon])).rejects.toBeInstanceOf(PermanentError);
  });
});
