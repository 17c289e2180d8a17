import { z } from 'zod';
import { FqlError, parseFql } from '../lib/fql';

const when = z.iso.datetime({ offset: true }).describe('ISO-8601 instant');
const fql = z
  .string()
  .max(2000)
  .refine((s) => {
    try {
      parseFql(s);
      return true;
    } catch (err) {
      if (err instanceof FqlError) return false;
      throw err;
    }
  }, 'is not valid FQL')
  .describe('FQL over the event: properties.*, context.*, event, type');
const path = z
  .string()
  .regex(/^(properties|context)(\.[^.\s]{1,100}){1,8}$/, 'must be properties.<path> or context.<path>')
  .describe('Group by this field of the event: properties.<path> or context.<path>');
const eventName = z.string().min(1).max(200).describe('Event name (a track), or $page, $screen, $identify, $group');
const range = { from: when, to: when };
const ordered = (q: { from: string; to: string }) => Date.parse(q.from) < Date.parse(q.to);
const MAX_RANGE_MS = 400 * 86_400_000;
const bounded = (q: { from: string; to: string }) => Date.parse(q.to) - Date.parse(q.from) <= MAX_RANGE_MS;

export const TrendsQuery = z
  .strictObject({
    event: eventName,
    ...range,
    interval: z.enum(['hour', 'day', 'week']),
    measure: z.enum(['events', 'users']).default('events').describe('Count events, or distinct unified profiles'),
    breakdown: path.optional(),
    where: fql.optional(),
    sourceId: z.string().max(100).optional().describe('Only events of this source'),
  })
  .refine(ordered, '`from` must be before `to`')
  .refine(bounded, 'the range is at most 400 days')
  .refine((q) => q.interval !== 'hour' || Date.parse(q.to) - Date.parse(q.from) <= 31 * 86_400_000, {
    message: 'hourly trends span at most 31 days',
  });
export type TrendsQuery = z.infer<typeof TrendsQuery>;

const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,3}[mhdw]$/, 'a duration such as 30m, 12h, 7d, 2w')
  .describe('Conversion window from the first step: 30m, 12h, 7d, 2w');

export const FunnelQuery = z
  .strictObject({
    steps: z
      .array(z.strictObject({ event: eventName, where: fql.optional() }))
      .min(2)
      .max(10),
    within: duration.default('7d'),
    ...range,
    breakdown: path.optional().describe("Group users by this field of their first step's event"),
    sourceId: z.string().max(100).optional(),
  })
  .refine(ordered, '`from` must be before `to`')
  .refine(bounded, 'the range is at most 400 days');
export type FunnelQuery = z.infer<typeof FunnelQuery>;

export const RetentionQuery = z
  .strictObject({
    startEvent: eventName,
    returnEvent: eventName,
    interval: z.enum(['day', 'week']),
    ...range,
    sourceId: z.string().max(100).optional(),
  })
  .refine(ordered, '`from` must be before `to`')
  .refine(bounded, 'the range is at most 400 days');
export type RetentionQuery = z.infer<typeof RetentionQuery>;

/** Milliseconds of a `within` duration. */
export function durationMs(d: string): number {
  const n = Number(d.slice(0, -1));
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[d.slice(-1) as 'm' | 'h' | 'd' | 'w'];
  return n * unit;
}
