import type { EnrichedEvent } from '../ingest/spec';
import { isObject } from '../lib/json';
import type { Ran } from './invocations';
import { handlerFor, invoke } from './sandbox';
import type { LiveInstance } from './store';

/** What insert functions made of one event: the changed event, or null when one dropped it. */
export interface Inserted {
  event: EnrichedEvent | null;
  ran: Ran[];
}

/**
 * Runs a chain of insert functions over one event, in order (Segment's `onTrack(event,
 * settings)` …): a returned object replaces the event, returning nothing (or throwing `DropEvent`)
 * drops it. A function that fails or has no handler for the type passes the event on unchanged:
 * a customer's bug must not lose data; the failure is recorded and counted on the instance.
 */
export async function runInserts(
  env: Cloudflare.Env,
  instances: readonly LiveInstance[],
  event: EnrichedEvent,
): Promise<Inserted> {
  const ran: Ran[] = [];
  let current: EnrichedEvent | null = event;
  for (const instance of instances) {
    if (!current) break;
    const inv = await invoke(env, instance.fn, {
      handler: handlerFor(current.type),
      arg: current,
      settings: instance.settings,
    });
    const name = inv.error?.name;
    if (name === 'EventNotSupported') {
      ran.push({ instance, inv: { ...inv, error: undefined }, status: 'ok' });
    } else if (name === 'DropEvent' || (!inv.error && inv.result == null)) {
      ran.push({ instance, inv: { ...inv, error: undefined }, status: 'dropped' });
      current = null;
    } else if (inv.error || !isObject(inv.result)) {
      const error = inv.error ?? {
        name: 'TypeError',
        message: 'the handler returned a non-object; event passed on unchanged',
      };
      ran.push({ instance, inv: { ...inv, error }, status: 'error' });
    } else {
      // The type and messageId stay Tessera's: dedupe and routing depend on them.
      current = { ...(inv.result as EnrichedEvent), type: current.type, messageId: current.messageId } as EnrichedEvent;
      ran.push({ instance, inv, status: 'ok' });
    }
  }
  return { event: current, ran };
}

/** Runs insert functions over a list of events (concurrently), keeping order and dropping the dropped. */
export async function runInsertsOver(
  env: Cloudflare.Env,
  instances: readonly LiveInstance[] | undefined,
  events: EnrichedEvent[],
): Promise<{ events: EnrichedEvent[]; ran: Ran[] }> {
  if (!instances?.length || !events.length) return { events, ran: [] };
  const results = await Promise.all(events.map((e) => runInserts(env, instances, e)));
  return {
    events: results.flatMap((r) => (r.event ? [r.event] : [])),
    ran: results.flatMap((r) => r.ran),
  };
}
