import { describe, expect, it } from 'vitest';
import { amplitude } from './amplitude';
import { braze } from './braze';
import { customerio } from './customerio';
import { mixpanel } from './mixpanel';
import { posthog } from './posthog';
import type { AnyDestination, DeletionSubject } from './types';

const subject: DeletionSubject = { userIds: ['user-42'], anonymousIds: ['anon-7'], emails: ['ada@example.com'] };
const ctx = { now: new Date('2026-03-01T12:00:00Z'), destinationId: 'd1', destinationName: 'Dest' };
const del = (def: AnyDestination, settings: Record<string, unknown>, s = subject) =>
  def.deleteUser?.(s, def.settings.parse(settings), ctx) ?? [];
const json = (body?: string) => JSON.parse(body ?? 'null');
const basic = (user: string, pass: string) => `Basic ${btoa(`${user}:${pass}`)}`;

describe('deleteUser: each vendor’s documented deletion request', () => {
  it('Amplitude: User Privacy API, Basic api key : secret key, user_ids; nothing without the secret key', () => {
    const [req, ...rest] = del(amplitude, { apiKey: 'amp-key', secretKey: 'amp-secret' });
    expect(rest).toEqual([]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe('https://amplitude.com/api/2/deletions/users');
    expect(req.headers.authorization).toBe(basic('amp-key', 'amp-secret'));
    expect(json(req.body)).toEqual({ user_ids: ['user-42'], requester: 'tessera', ignore_invalid_id: 'true' });
    expect(del(amplitude, { apiKey: 'k', secretKey: 's', region: 'EU' })[0].url).toBe(
      'https://analytics.eu.amplitude.com/api/2/deletions/users',
    );
    expect(del(amplitude, { apiKey: 'amp-key' })).toEqual([]);
    const many = { ...subject, userIds: Array.from({ length: 150 }, (_, i) => `u${i}`) };
    expect(del(amplitude, { apiKey: 'k', secretKey: 's' }, many).map((r) => json(r.body).user_ids.length)).toEqual([
      100, 50,
    ]);
  });

  it('Mixpanel: GDPR API deletion task with the OAuth token; else the profile $delete through /engage', () => {
    const [gdpr] = del(mixpanel, { projectToken: 'mp-token', gdprToken: 'oauth' });
    expect(gdpr.url).toBe('https://mixpanel.com/api/app/data-deletions/v3.0/?token=mp-token');
    expect(gdpr.headers.authorization).toBe('Bearer oauth');
    expect(json(gdpr.body)).toEqual({ distinct_ids: ['user-42', 'anon-7'], compliance_type: 'GDPR' });
    expect(del(mixpanel, { projectToken: 't', gdprToken: 'o', region: 'EU' })[0].url).toMatch(
      /^https:\/\/eu\.mixpanel\.com\//,
    );
    const [engage] = del(mixpanel, { projectToken: 'mp-token' });
    expect(engage.url).toBe('https://api.mixpanel.com/engage?verbose=1');
    expect(json(engage.body)).toEqual([
      { $token: 'mp-token', $distinct_id: 'user-42', $delete: null, $ignore_alias: false },
      { $token: 'mp-token', $distinct_id: 'anon-7', $delete: null, $ignore_alias: false },
    ]);
  });

  it('Braze: POST /users/delete with external_ids, Bearer REST key, 50 per request', () => {
    const [req] = del(braze, { apiKey: 'braze-key', restEndpoint: 'https://rest.fra-01.braze.eu/' });
    expect(req.url).toBe('https://rest.fra-01.braze.eu/users/delete');
    expect(req.headers.authorization).toBe('Bearer braze-key');
    expect(json(req.body)).toEqual({ external_ids: ['user-42'] });
    const many = { ...subject, userIds: Array.from({ length: 51 }, (_, i) => `u${i}`) };
    expect(del(braze, { apiKey: 'k', restEndpoint: 'https://rest.iad-01.braze.com' }, many)).toHaveLength(2);
  });

  it('Customer.io: DELETE /api/v1/customers/{id} per person id, Basic site id : api key', () => {
    const reqs = del(customerio, { siteId: 'site', apiKey: 'cio-key' }, { ...subject, userIds: ['user 42', 'b'] });
    expect(reqs.map((r) => `${r.method} ${r.url}`)).toEqual([
      'DELETE https://track.customer.io/api/v1/customers/user%2042',
      'DELETE https://track.customer.io/api/v1/customers/b',
    ]);
    expect(reqs[0].headers.authorization).toBe(basic('site', 'cio-key'));
    expect(reqs[0].body).toBeUndefined();
    expect(del(customerio, { siteId: 's', apiKey: 'k', region: 'EU' })[0].url).toMatch(
      /^https:\/\/track-eu\.customer\.io\//,
    );
  });

  it('PostHog: persons bulk_delete by distinct ids with their events, personal API key; nothing without it', () => {
    const [req] = del(posthog, { apiKey: 'phc_x', personalApiKey: 'phx_personal', projectId: '123' });
    expect(req.url).toBe('https://us.posthog.com/api/projects/123/persons/bulk_delete/');
    expect(req.headers.authorization).toBe('Bearer phx_personal');
    expect(json(req.body)).toEqual({ distinct_ids: ['user-42', 'anon-7'], delete_events: true });
    const own = del(posthog, { apiKey: 'k', host: 'https://ph.example.com', personalApiKey: 'p', projectId: '1' });
    expect(own[0].url).toBe('https://ph.example.com/api/projects/1/persons/bulk_delete/');
    expect(del(posthog, { apiKey: 'phc_x' })).toEqual([]);
  });

  it('a person without a user id is not sent where the vendor keys by user id', () => {
    const anonOnly = { userIds: [], anonymousIds: ['anon-7'], emails: [] };
    expect(del(braze, { apiKey: 'k', restEndpoint: 'https://rest.iad-01.braze.com' }, anonOnly)).toEqual([]);
    expect(del(customerio, { siteId: 's', apiKey: 'k' }, anonOnly)).toEqual([]);
    expect(del(amplitude, { apiKey: 'k', secretKey: 's' }, anonOnly)).toEqual([]);
  });
});
