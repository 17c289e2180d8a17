import { ApiError, tooLarge } from '../lib/errors';
import { describeIssues } from '../lib/http/body';
import { checkJson, deepMerge, isObject, type JsonObject, jsonBytes, setOwn } from '../lib/json';
import { enrich, type RequestFacts } from './enrich';
import { type EnrichedEvent, type EventType, LIMITS, SegmentEvent } from './spec';

/** Why one event of a request was refused. */
export interface Rejection {
  index: number;
  code: 'invalid_event' | 'event_too_large' | 'nesting_too_deep' | 'invalid_number';
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
  /**
   * Serialised bytes of every item once batch-level fields are merged in, accepted or not: what
   * the request really costs (a rate limiter charges this, not the body size). At most
   * `LIMITS.expandedBytes`.
   */
  expandedBytes: number;
}

export interface CollectOptions {
  /** The route's type (`/v1/track`…) wins over the body's. */
  forcedType?: EventType;
  /** A batch body: its `context`, `integrations` and `sentAt` apply to every item. */
  batch?: JsonObject;
}

/**
 * Batch-level fields that apply to every item, item values winning (Segment's rule). `context`
 * merges deeply (an item's `context.device.id` keeps the batch's `context.device.type`);
 * `integrations` one level, as its values are per-destination switches or option bags.
 */
export function mergeBatchFields(item: JsonObject, batch: JsonObject): JsonObject {
  const out: JsonObject = { ...item };
  if (isObject(batch.context)) out.context = deepMerge(batch.context, isObject(item.context) ? item.context : {});
  if (isObject(batch.integrations)) {
    out.integrations = { ...batch.integrations, ...(isObject(item.integrations) ? item.integrations : {}) };
  }
  if (out.sentAt === undefined && typeof batch.sentAt === 'string') out.sentAt = batch.sentAt;
  return out;
}

/**
 * Validates and enriches raw items; never throws for a bad item, it is reported instead. Throws
 * only for what is wrong with the request as a whole: batch-level fields that no item could carry,
 * or an expansion beyond `LIMITS.expandedBytes`.
 */
export function collect(items: unknown[], facts: RequestFacts, options: CollectOptions = {}): Collected {
  const { forcedType, batch } = options;
  if (batch) checkBatchFields(batch);
  const result: Collected = { accepted: [], rejected: [], debug: [], expandedBytes: 0 };
  const receivedAt = facts.receivedAt.toISOString();
  for (const [index, raw] of items.entries()) {
    const reject = (code: Rejection['code'], message: string, shown: unknown = raw) => {
      result.rejected.push({ index, code, message });
      result.debug.push({ receivedAt, status: 'rejected', error: { code, message }, event: shown });
    };
    if (!isObject(raw)) {
      reject('invalid_event', 'event must be a JSON object');
      continue;
    }
    // Before anything that recurses (JSON.stringify, structured clone for the queue and the
    // debugger): a value too deep to serialise must be refused here, never answered 2xx.
    const defect = checkJson(raw, LIMITS.nestingDepth);
    if (defect) {
      reject(defect.code, `${defect.field || 'event'}: ${defect.message}`, summarize(raw));
      continue;
    }
    const { writeKey: _drop, ...candidate } = batch ? mergeBatchFields(raw, batch) : raw;
    if (forcedType) candidate.type = forcedType;
    const bytes = jsonBytes(candidate);
    result.expandedBytes += bytes;
    if (result.expandedBytes > LIMITS.expandedBytes) {
      throw tooLarge(
        `The request expands to more than ${LIMITS.expandedBytes} bytes once batch-level fields are copied into each event; send a smaller batch or a smaller batch-level context`,
      );
    }
    if (bytes > LIMITS.eventBytes) {
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

/** Batch-level fields sit at depth 1 of every event they are merged into. */
function checkBatchFields(batch: JsonObject): void {
  for (const key of ['context', 'integrations'] as const) {
    const defect = checkJson(batch[key], LIMITS.nestingDepth, 1);
    if (defect) throw new ApiError(400, defect.code, `batch-level ${key}: ${defect.message}`);
  }
}

/**
 * What the debugger shows of an event that cannot be serialised: its top-level scalars, the
 * rest named but left out (the debugger entry must itself be serialisable).
 */
function summarize(raw: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'writeKey') continue;
    const shown = typeof value === 'string' ? value.toWellFormed() : value;
    setOwn(out, key, typeof value === 'object' && value !== null ? '[omitted: cannot be serialised]' : shown);
  }
  return out;
}
