import type { DebugEntry } from '../ingest/collect';
import type { EnrichedEvent, IngestMessage } from '../ingest/spec';
import { governanceFor } from './cache';
import { flushObserved, observer } from './observed';
import { govern, type Verdict, type Violation } from './plan';
import type { SchemaSettings } from './rules';
import { applyAll } from './transformations';
import { recordViolations, type ViolationRecord } from './violations';

export interface Governed {
  /** Events to enqueue under the request's source (blocked ones removed, the rest annotated). */
  accepted: EnrichedEvent[];
  /** Blocked events forwarded and `Violation Generated` events, each under its own source. */
  extra: IngestMessage[];
  records: ViolationRecord[];
  planId: string | null;
}

const nameOf = (e: EnrichedEvent) =>
  e.type === 'track' ? e.event : e.type === 'page' || e.type === 'screen' ? (e.name ?? '') : '';

/** Segment's `Violation Generated` track event for one violation of `event`. */
export function violationEvent(event: EnrichedEvent, v: Violation, planId: string, n: number): EnrichedEvent {
  return {
    type: 'track',
    event: 'Violation Generated',
    messageId: `${event.messageId}-violation-${n}`.slice(0, 100),
    userId: event.userId,
    anonymousId: event.anonymousId,
    receivedAt: event.receivedAt,
    timestamp: event.timestamp,
    originalTimestamp: event.originalTimestamp,
    context: { protocols: { sourceTrackingPlan: planId } },
    properties: {
      eventName: nameOf(event),
      eventType: event.type,
      violationType: v.type,
      violationField: v.field,
      violationDescription: v.description,
      trackingPlanId: planId,
    },
  } as EnrichedEvent;
}

/**
 * Applies the source's tracking plan and schema controls to a request's accepted events, at the
 * edge before anything is enqueued. Debugger entries are updated in place: blocked events are
 * shown as blocked with why, allowed ones with their violations.
 */
export async function governEvents(
  d1: D1Database,
  sourceId: string,
  events: EnrichedEvent[],
  debug: DebugEntry[],
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<Governed> {
  const { plan, settings, transformations } = await governanceFor(d1, sourceId, Date.now(), keepAlive);
  if (!plan && !transformations.length) return { accepted: events, extra: [], records: [], planId: null };
  const entryOf = new Map(debug.map((d) => [d.event, d]));
  const out: Governed = { accepted: [], extra: [], records: [], planId: plan?.id ?? null };
  for (const event of events) {
    const entry = entryOf.get(event);
    const verdict: Verdict = plan
      ? govern(plan, settings, event as unknown as Record<string, unknown>)
      : { blocked: false, event: event as unknown as Record<string, unknown>, violations: [], omitted: [] };
    if (verdict.violations.length) out.records.push({ event, violations: verdict.violations });
    if (plan) forwardViolations(out, settings, event, verdict.violations, plan.id);
    if (verdict.blocked) {
      if (entry) {
        entry.status = 'blocked';
        entry.error = { code: 'blocked', message: verdict.reason ?? 'blocked by the tracking plan' };
        entry.violations = verdict.violations;
      }
      if (settings.forwardingBlockedEventsTo) out.extra.push({ sourceId: settings.forwardingBlockedEventsTo, event });
      continue;
    }
    // Source-scoped transformations run after the plan, on what the plan let through.
    const transformed = applyAll(transformations, verdict.event);
    if (!transformed) {
      if (entry) {
        entry.status = 'blocked';
        entry.error = { code: 'dropped', message: 'dropped by a transformation' };
      }
      continue;
    }
    const governed = transformed as unknown as EnrichedEvent;
    if (entry) {
      entry.event = governed;
      if (verdict.violations.length) entry.violations = verdict.violations;
    }
    out.accepted.push(governed);
  }
  return out;
}

function forwardViolations(
  out: Governed,
  settings: SchemaSettings,
  event: EnrichedEvent,
  vs: Violation[],
  planId: string,
) {
  if (!settings.forwardingViolationsTo) return;
  vs.slice(0, 20).forEach((v, n) => {
    out.extra.push({ sourceId: settings.forwardingViolationsTo as string, event: violationEvent(event, v, planId, n) });
  });
}

/**
 * After the answer: adds a request's valid events to the observed schema (flushed from the isolate
 * in batches) and counts its violations. Failures cost only these counts, never an event.
 */
export async function recordGovernance(d1: D1Database, sourceId: string, valid: EnrichedEvent[], governed: Governed) {
  observer.observe(sourceId, valid);
  const observed = observer.take();
  const writes: Promise<void>[] = [];
  if (observed.length) writes.push(flushObserved(d1, observed));
  if (governed.planId && governed.records.length)
    writes.push(recordViolations(d1, sourceId, governed.planId, governed.records));
  for (const r of await Promise.allSettled(writes)) {
    if (r.status === 'rejected') console.warn('governance counts failed', r.reason);
  }
}
