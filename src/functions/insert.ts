import type { EnrichedEvent } from '../ingest/spec';
import { isObject } from '../lib/json';
import type { Ran } from './invocations';
import { handlerFor, type Invocation, invokeAll } from './sandbox';
import type { LiveInstance } from './store';

/**
 * What one insert function made of one event (Segment's `onTrack(event, settings)` …): a returned
 * object replaces the event, returning nothing (or throwing `DropEvent`) drops it. A function that
 * fails passes the event on unchanged (a customer's bug must not lose data), recorded as an error;
 * one without a handler for the type passes it on too.
 */
function judge(
  instance: LiveInstance,
  inv: Invocation,
  event: EnrichedEvent,
): { event: EnrichedEvent | null; ran: Ran } {
  const name = inv.error?.name;
  if (name === 'EventNotSupported')
    return { event, ran: { instance, inv: { ...inv, error: undefined }, status: 'ok' } };
  if (name === 'DropEvent' || (!inv.error && inv.result == null)) {
    return { event: null, ran: { instance, inv: { ...inv, error: undefined }, status: 'dropped' } };
  }
  if (inv.error || !isObject(inv.result)) {
    const error = inv.error ?? {
      name: 'TypeError',
      message: 'the handler returned a non-object; event passed on unchanged',
    };
    return { event, ran: { instance, inv: { ...inv, error }, status: 'error' } };
  }
  // The type and messageId stay Tessera's: dedupe and routing depend on them.
  const changed = { ...(inv.result as EnrichedEvent), type: event.type, messageId: event.messageId } as EnrichedEvent;
  return { event: changed, ran: { instance, inv, status: 'ok' } };
}

/**
 * Runs a chain of insert functions over events, in order; each function gets all surviving events
 * in one round trip to its isolate. `results[i]` is what became of `events[i]` (null: dropped).
 */
export async function runInsertsOver(
  env: Cloudflare.Env,
  instances: readonly LiveInstance[] | undefined,
  events: EnrichedEvent[],
): Promise<{ events: EnrichedEvent[]; results: (EnrichedEvent | null)[]; ran: Ran[] }> {
  const results: (EnrichedEvent | null)[] = [...events];
  if (!instances?.length || !events.length) return { events, results, ran: [] };
  const ran: Ran[] = [];
  for (const instance of instances) {
    const alive = results.flatMap((e, i) => (e ? [i] : []));
    if (!alive.length) break;
    const invs = await invokeAll(
      env,
      instance.fn,
      alive.map((i) => {
        const e = results[i] as EnrichedEvent;
        return { handler: handlerFor(e.type), arg: e, settings: instance.settings };
      }),
    );
    alive.forEach((i, n) => {
      const step = judge(instance, invs[n], results[i] as EnrichedEvent);
      results[i] = step.event;
      ran.push(step.ran);
    });
  }
  return { events: results.filter((e): e is EnrichedEvent => e !== null), results, ran };
}
