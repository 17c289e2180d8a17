// Consent on the profile (Segment Unify): the latest `Segment Consent Preference Updated` is the
// profile's `consent` trait, and audience activation honours it per destination category.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import './settle';
import {
  define,
  eventually,
  getJson,
  makeDestination,
  makeSource,
  profilePath,
  sendBatch,
  uniq,
  vendor,
  waitForEvents,
} from './kit/workers';

const HOST = 'consent-hook.example';
let hook: ReturnType<typeof vendor>;
let writeKey: string;
let ads: string;
let analytics: string;

beforeAll(async () => {
  hook = vendor(HOST);
  writeKey = (await makeSource('consent')).writeKey;
  const hookAt = async (path: string, categories: string[]) =>
    (
      await makeDestination({
        type: 'webhook',
        name: path,
        settings: { url: `https://${HOST}/${path}` },
        consentCategories: categories,
      })
    ).id;
  ads = await hookAt('ads', ['Advertising']);
  analytics = await hookAt('analytics', ['Analytics']);
});
afterAll(() => hook.restore());

const consentEvent = (userId: string, prefs: Record<string, boolean>, timestamp: string) => ({
  type: 'track',
  userId,
  event: 'Segment Consent Preference Updated',
  timestamp,
  context: { consent: { categoryPreferences: prefs } },
});

describe('consent', () => {
  it('keeps the latest preferences as the verbose trait `consent`, with source and time', async () => {
    const user = uniq('consent');
    await sendBatch(writeKey, [
      consentEvent(user, { Advertising: true, Analytics: true }, '2026-03-01T10:00:00.000Z'),
      consentEvent(user, { Advertising: false, Analytics: true }, '2026-03-01T11:00:00.000Z'),
      // Arrives later but happened earlier: the newer preferences stay.
      consentEvent(user, { Advertising: true, Analytics: false }, '2026-03-01T09:00:00.000Z'),
      // Other events' consent context does not change the profile's.
      {
        type: 'track',
        userId: user,
        event: 'Other',
        context: { consent: { categoryPreferences: { Analytics: false } } },
      },
    ]);
    await waitForEvents(`user_id:${user}`, 4);
    const { body } = await getJson<{
      traits: Record<string, { value: unknown; timestamp?: string; source_id?: string }>;
    }>(profilePath(`user_id:${user}`, 'traits') + '?verbose=true');
    expect(body.traits.consent.value).toEqual({ categoryPreferences: { Advertising: false, Analytics: true } });
    expect(JSON.stringify(body.traits.consent)).toContain('2026-03-01T11:00:00.000Z');
  });

  it("an audience's destination gets no membership for a profile that withheld its category", async () => {
    await define('audiences', {
      key: 'signed_up',
      emit: 'track',
      destinationIds: [ads, analytics],
      definition: { event: 'Signed Up', count: { '>=': 1 }, within: '30d' },
    });
    const withheld = uniq('noads');
    const granted = uniq('ads');
    const now = new Date().toISOString();
    await sendBatch(writeKey, [
      consentEvent(withheld, { Advertising: false, Analytics: true }, now),
      { type: 'track', userId: withheld, event: 'Signed Up' },
      consentEvent(granted, { Advertising: true, Analytics: true }, now),
      { type: 'track', userId: granted, event: 'Signed Up' },
    ]);
    const entered = (user: string, path: string) =>
      hook.received.find(
        (r) => r.body.userId === user && r.body.event === 'Audience Entered' && r.url.endsWith(`/${path}`),
      );
    const got = await eventually(() => entered(withheld, 'analytics'));
    expect(got.body.context).toMatchObject({
      consent: { categoryPreferences: { Advertising: false, Analytics: true } },
    });
    await eventually(() => entered(granted, 'ads'));
    await eventually(() => entered(granted, 'analytics'));
    await new Promise((r) => setTimeout(r, 500));
    expect(entered(withheld, 'ads')).toBeUndefined();
  });
});
