import { isObject, type JsonObject, jsonBytes } from '../lib/json';
import { enrich, type RequestFacts } from './enrich';
import { describeIssues, type EnrichedEvent, type EventType, LIMITS, SegmentEvent } from './spec';

/** Why one event of a request was refused. */
export interface Rejection {
  index: number;
  code: 'invalid_event' | 'event_too_large';
  message: string;
}

/** One entry of the source debugger: what arrived and what Tessera made of it. */
export interface DebugEntry {
  receivedAt: string;
  /** `blocked`: valid, but stopped by the source's tracking plan. */
  status: 'accepted' | 'rejected' | 'blocked';
  error?: { code: string; message: string };
  /** Tracking plan violations of the event (see src/governance). */
  violations?: { type: string; field: string; description: string }[];
  event: unknown;
}

export interface Collected {
  accepted: EnrichedEvent[];
  rejected: Rejection[];
  debug: DebugEntry[];
}

/** Batch-level fields that apply to every item, item values winning (Segment's rule). */
export function mergeBatchFields(item: JsonObject, batch: JsonObject): JsonObject {
  const out: JsonObject = { ...item };
  for (const key of ['context', 'integrations'] as const) {
    if (isObject(batch[key])) out[key] = { ...batch[key], ...(isObject(item[key]) ? item[key] : {}) };
  }
  if (out.sentAt === undefined && typeof batch.sentAt === 'string') out.sentAt = batch.sentAt;
  return out;
}

/** Validates and enriches raw items; never throws for a bad item, it is reported instead. */
export function collect(items: unknown[], facts: RequestFacts, forcedType?: EventType): Collected {
  const result: Collected = { accepted: [], rejected: [], debug: [] };
  const receivedAt = facts.receivedAt.toISOString();
  for (const [index, raw] of items.entries()) {
    const reject = (code: Rejection['code'], message: string) => {
      result.rejected.push({ index, code, message });
      result.debug.push({ receivedAt, status: 'rejected', error: { code, message }, event: raw });
    };
    if (!isObject(raw)) {
      reject('invalid_event', 'event must be a JSON object');
      continue;
    }
    const { writeKey: _drop, ...candidate } = raw;
    if (forcedType) candidate.type = forcedType;
    if (jsonBytes(candidate) > LIMITS.eventBytes) {
      reject('event_too_large', `event exceeds ${LIMITS.eventBytes} bytes`);
      continue;
    }
    const parsed = SegmentEvent.safeParse(candidate);
    if (!parsed.success) {
      reject('invalid_event', describeIssues(parsed.error));
      continue;
    }
    const event = enrich(parsed.data, facts);
    result.accepted.push(event);
    result.debug.push({ receivedAt, status: 'accepted', event });
  }
  return result;
}
