import { z } from 'zod';
import { normalizeTimestamp } from './timestamp';

/**
 * The Segment Tracking API spec, once. Unknown fields pass through untouched (Segment keeps
 * them), ids may be strings or numbers (Segment accepts both) and are stored as strings.
 */
export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const REQUEST_BYTES = 500 * 1024;

/** Limits of the Tracking API: Segment's documented ones, and Tessera's bounds on hostile input. */
export const LIMITS = {
  eventBytes: 32 * 1024,
  requestBytes: REQUEST_BYTES,
  batchEvents: 2500,
  messageIdChars: 100,
  /** Objects and arrays nested inside an event, counted from the event (`properties` is level 1). */
  nestingDepth: 64,
  /**
   * Bytes of a request once batch-level fields are copied into every item: a small request with
   * a large batch `context` would otherwise become megabytes of queue traffic and storage.
   */
  expandedBytes: 4 * REQUEST_BYTES,
} as const;

const id = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => v.length > 0 && v.length <= 1024, 'must be a non-empty string of at most 1024 chars');
/** analytics.js sends `"userId": null` for anonymous visitors: null means absent. */
const optionalId = id.nullish().transform((v) => v ?? undefined);
/** Stored as UTC ISO-8601 with `Z`, whatever offset or precision the client sent. */
const isoDate = z
  .string()
  .transform((v, ctx) => {
    const normalized = normalizeTimestamp(v);
    if (normalized === undefined) ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 date' });
    return normalized ?? z.NEVER;
  })
  .describe('ISO-8601 date-time, normalised to UTC');
const object = z.record(z.string(), z.unknown());

const common = {
  type: z.enum(EVENT_TYPES),
  messageId: z.string().min(1).max(LIMITS.messageIdChars).optional().describe('Client-generated id used to dedupe'),
  userId: optionalId.describe('Your database id for the user'),
  anonymousId: optionalId.describe('Device or browser id before the user is known'),
  timestamp: isoDate.optional(),
  originalTimestamp: isoDate.optional(),
  sentAt: isoDate.optional(),
  context: object.optional(),
  integrations: object.optional(),
};

const track = z.looseObject({
  ...common,
  type: z.literal('track'),
  event: z.string().min(1).max(1024).describe('Name of the action the user performed'),
  properties: object.optional(),
});
const identify = z.looseObject({ ...common, type: z.literal('identify'), traits: object.optional() });
const page = z.looseObject({
  ...common,
  type: z.literal('page'),
  name: z.string().optional(),
  category: z.string().optional(),
  properties: object.optional(),
});
const screen = z.looseObject({ ...page.shape, type: z.literal('screen') });
const group = z.looseObject({ ...common, type: z.literal('group'), groupId: id, traits: object.optional() });
const alias = z.looseObject({ ...common, type: z.literal('alias'), previousId: id });

/** One Segment message of any type. */
export const SegmentEvent = z
  .discriminatedUnion('type', [track, identify, page, screen, group, alias])
  .refine((e) => e.userId !== undefined || e.anonymousId !== undefined, {
    message: 'userId or anonymousId is required',
    path: ['userId'],
  });
export type SegmentEvent = z.infer<typeof SegmentEvent>;

/** An event after enrichment: the fields Tessera always sets are present. */
export type EnrichedEvent = SegmentEvent & {
  messageId: string;
  receivedAt: string;
  timestamp: string;
  originalTimestamp: string;
  context: Record<string, unknown>;
};

/** What the `ingest` queue carries: one accepted event and the source it came from. */
export interface IngestMessage {
  sourceId: string;
  event: EnrichedEvent;
}
