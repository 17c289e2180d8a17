import type { EnrichedEvent } from '../ingest/spec';
import { isObject, type JsonObject } from '../lib/json';

/** The track event Segment's consent tooling sends when a person changes their preferences. */
export const CONSENT_EVENT = 'Segment Consent Preference Updated';
/** The profile trait that keeps the latest preferences (Profile API `consent`). */
export const CONSENT_TRAIT = 'consent';

/**
 * The `consent` trait an event sets: only `Segment Consent Preference Updated` with
 * `context.consent.categoryPreferences` (an object of category → boolean) updates it, as in
 * Segment Unify. Stamped with the event's time and source like any trait, so the latest wins.
 */
export function consentTrait(event: EnrichedEvent): { consent: JsonObject } | undefined {
  if (event.type !== 'track' || event.event !== CONSENT_EVENT) return undefined;
  const consent = isObject(event.context) ? event.context.consent : undefined;
  const prefs = isObject(consent) ? consent.categoryPreferences : undefined;
  if (!isObject(prefs)) return undefined;
  const categoryPreferences: JsonObject = {};
  for (const [k, v] of Object.entries(prefs)) if (typeof v === 'boolean') categoryPreferences[k] = v;
  return { consent: { categoryPreferences } };
}

/**
 * An audience or computed-trait event carries the profile's stored preferences as its
 * `context.consent`, so delivery's consent check (`consentAllows`) keeps it from a destination
 * whose category the person withheld, as Segment does for audience activation.
 */
export function withProfileConsent(event: EnrichedEvent, traits: Record<string, unknown>): EnrichedEvent {
  const stored = traits[CONSENT_TRAIT];
  const prefs = isObject(stored) ? stored.categoryPreferences : undefined;
  if (!isObject(prefs)) return event;
  return { ...event, context: { ...event.context, consent: { categoryPreferences: prefs } } };
}
