import type { AnyDestination } from '../destinations/types';
import { applyAll, type TransformationBody } from '../governance/transformations';
import type { EnrichedEvent } from '../ingest/spec';
import { isObject, type JsonObject } from '../lib/json';
import { applyFilters, type DestinationFilter } from './filters';
import type { OutboundEvent } from './messages';

/** A configured, enabled destination, parsed and ready to receive events. */
export interface LiveDestination {
  id: string;
  name: string;
  def: AnyDestination;
  settings: unknown;
  sourceIds: string[];
  consentCategories: readonly string[];
  filters: DestinationFilter[];
  /** Transformations scoped to this destination, by source id (src/governance), run before filters. */
  transformations?: ReadonlyMap<string, TransformationBody[]>;
}

/**
 * Segment's `integrations` object: a key naming this destination (instance name, catalog name or
 * type, any case) wins; otherwise `All` decides; absent means send.
 */
export function integrationsAllow(event: EnrichedEvent, dest: LiveDestination): boolean {
  const ints = event.integrations;
  if (!isObject(ints)) return true;
  const names = new Set([dest.name, dest.def.name, dest.def.id].map((n) => n.toLowerCase()));
  let all: unknown;
  for (const [key, value] of Object.entries(ints)) {
    if (names.has(key.toLowerCase())) return value !== false;
    if (key.toLowerCase() === 'all') all = value;
  }
  return all !== false;
}

/**
 * Consent: with `context.consent.categoryPreferences` present, every category the destination is
 * mapped to must be true. Destinations without categories, and events without preferences, pass.
 */
export function consentAllows(event: EnrichedEvent, categories: readonly string[]): boolean {
  if (!categories.length) return true;
  const consent = event.context.consent;
  const prefs = isObject(consent) ? consent.categoryPreferences : undefined;
  if (!isObject(prefs)) return true;
  return categories.every((c) => prefs[c] === true);
}

/** Where an outbound event goes: the event each destination receives, or why it does not. */
export type Route =
  | { dest: LiveDestination; event: EnrichedEvent }
  | { dest: LiveDestination; dropped: 'unsupported' | 'integrations' | 'consent' | 'transformation' | 'filter' };

/** Routes one outbound event to the destinations subscribed to it. */
export function route(msg: OutboundEvent, destinations: LiveDestination[]): Route[] {
  const out: Route[] = [];
  for (const dest of destinations) {
    const subscribed = msg.destinationIds
      ? msg.destinationIds.includes(dest.id)
      : msg.sourceId !== undefined && (dest.sourceIds.includes(msg.sourceId) || dest.sourceIds.includes('*'));
    if (!subscribed) continue;
    const event = msg.event;
    if (!dest.def.supportedTypes.includes(event.type)) out.push({ dest, dropped: 'unsupported' });
    else if (!integrationsAllow(event, dest)) out.push({ dest, dropped: 'integrations' });
    else if (!consentAllows(event, dest.consentCategories)) out.push({ dest, dropped: 'consent' });
    else {
      const own = msg.sourceId === undefined ? undefined : dest.transformations?.get(msg.sourceId);
      const transformed = own?.length ? (applyAll(own, event as unknown as JsonObject) as EnrichedEvent | null) : event;
      const filtered = transformed && applyFilters(transformed, dest.filters);
      if (!transformed) out.push({ dest, dropped: 'transformation' });
      else out.push(filtered ? { dest, event: filtered } : { dest, dropped: 'filter' });
    }
  }
  return out;
}
