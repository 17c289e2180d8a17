import type { z } from 'zod';
import type { EnrichedEvent, EventType } from '../ingest/spec';
import type { DeliveryError } from './errors';

/**
 * What a destination's mapping produces: one HTTP request, described, not performed. The
 * delivery layer performs it, times it out, classifies the answer and retries; so mappings stay
 * pure and are tested without any network.
 */
export interface RequestDescription {
  method: 'POST' | 'PUT' | 'PATCH' | 'GET' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  /** The exact bytes sent (already serialised, so signatures cover what goes on the wire). */
  body?: string;
}

/** Facts a mapping may use besides the events and settings; fixed in tests for snapshots. */
export interface MapContext {
  /** The instant the request is built (signatures, `sentAt`). */
  now: Date;
  /** The destination instance's id and name, for headers or message templates. */
  destinationId: string;
  destinationName: string;
}

/** A vendor answer, as the delivery layer reads it. */
export interface VendorAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One destination type: everything Tessera needs to know to send Segment events to a vendor.
 * Declared with `defineDestination` in `src/destinations/<id>/index.ts` and listed once in
 * `src/destinations/registry.ts`.
 */
export interface DestinationDefinition<S extends z.ZodType = z.ZodType> {
  /** Stable type key used in the API (`type`), e.g. `mixpanel`. */
  id: string;
  /** Catalog name; also the key honoured in an event's `integrations` object. */
  name: string;
  description: string;
  /**
   * Consent categories the destination is mapped to by default (an instance may override). An
   * event carrying `context.consent.categoryPreferences` reaches it only if every one is true.
   */
  consentCategories: readonly string[];
  /** Settings schema; `.describe()` texts feed the API catalog and console forms. */
  settings: S;
  /** Settings keys that hold secrets: never returned in full by the API. */
  secrets: readonly string[];
  /** Event types the vendor accepts; others are skipped without a request. */
  supportedTypes: readonly EventType[];
  /** Most events one request may carry (1 = one request per event). */
  batchSize: number | ((settings: z.infer<S>) => number);
  /** Upper bound of the summed event JSON size in one request. */
  maxBatchBytes?: number;
  /** Events with the same key may share one request (e.g. Mixpanel events vs profile updates). */
  batchKey?(event: EnrichedEvent, settings: z.infer<S>): string;
  /** URLs typed by users in the settings, checked against SSRF when the settings are saved. */
  urls?(settings: z.infer<S>): string[];
  /**
   * Builds the request for events of the same batch key (at most `batchSize`). Returns null when
   * the vendor has nothing to receive for them; throws `PermanentError` for an event the vendor
   * can never accept (the failure is recorded with the reason).
   */
  map(
    events: EnrichedEvent[],
    settings: z.infer<S>,
    ctx: MapContext,
  ): RequestDescription | null | Promise<RequestDescription | null>;
  /**
   * Delivers by running code instead of one mapped request (destination functions,
   * src/destinations/function): one result per event, undefined when delivered. `map` is unused then.
   */
  deliver?(events: EnrichedEvent[], settings: z.infer<S>): Promise<(DeliveryError | undefined)[]>;
  /** Reads a 2xx answer that may still report an error in its body (returns the error, if any). */
  bodyError?(answer: VendorAnswer): string | undefined;
  /**
   * The vendor's documented deletion request(s) for a person (regulations that delete at
   * destinations). Absent: the vendor has no deletion API. Empty: these settings cannot delete
   * (e.g. the deletion credential is not set) or the person has no id the vendor keys by.
   */
  deleteUser?(subject: DeletionSubject, settings: z.infer<S>, ctx: MapContext): RequestDescription[];
}

/** Who a deletion forwarded to a destination is about: the ids vendors key people by. */
export interface DeletionSubject {
  userIds: string[];
  anonymousIds: string[];
  emails: string[];
}

/** A definition with its settings type erased, as the registry and the delivery layer hold it. */
export type AnyDestination = DestinationDefinition<z.ZodType>;

/** Declares a destination type (keeps the settings type flowing into `map`). */
export function defineDestination<S extends z.ZodType>(def: DestinationDefinition<S>): AnyDestination {
  return def as unknown as AnyDestination;
}

/** The batch size a definition allows for given settings. */
export function batchSizeOf(def: AnyDestination, settings: unknown): number {
  const n = typeof def.batchSize === 'function' ? def.batchSize(settings) : def.batchSize;
  return Math.max(1, Math.floor(n));
}
