import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../ingest/spec';
import { CONSENT_EVENT, consentTrait, withProfileConsent } from './consent';

const ev = (e: Record<string, unknown>) =>
  ({ messageId: 'm', timestamp: '', receivedAt: '', context: {}, ...e }) as unknown as EnrichedEvent;
const prefs = { Advertising: false, Analytics: true };

describe('consent', () => {
  it('only Segment Consent Preference Updated with categoryPreferences sets the trait (booleans only)', () => {
    const updated = ev({
      type: 'track',
      event: CONSENT_EVENT,
      context: { consent: { categoryPreferences: { ...prefs, Junk: 'yes' } } },
    });
    expect(consentTrait(updated)).toEqual({ consent: { categoryPreferences: prefs } });
    expect(
      consentTrait(ev({ type: 'track', event: 'Other', context: { consent: { categoryPreferences: prefs } } })),
    ).toBeUndefined();
    expect(consentTrait(ev({ type: 'track', event: CONSENT_EVENT }))).toBeUndefined();
    expect(
      consentTrait(ev({ type: 'identify', context: { consent: { categoryPreferences: prefs } } })),
    ).toBeUndefined();
  });

  it('audience events carry the profile’s stored preferences; none stored, none added', () => {
    const audience = ev({ type: 'track', event: 'Audience Entered', context: { personas: { space_id: 'default' } } });
    const out = withProfileConsent(audience, { consent: { categoryPreferences: prefs } });
    expect(out.context).toEqual({ personas: { space_id: 'default' }, consent: { categoryPreferences: prefs } });
    expect(withProfileConsent(audience, { email: 'a@b.c' })).toBe(audience);
  });
});
