import { batchSizeOf, type RequestDescription } from '../destinations/types';
import type { EnrichedEvent } from '../ingest/spec';
import { type Lane, pausedFor, recordFailure, recordSuccess } from './breaker';
import type { DeliveryConfig } from './config';
import { type DeliveryError, PermanentError, RetryableError } from './errors';
import { perform } from './perform';
import type { LiveDestination } from './routing';

/** One event on its way to one destination, and what became of it. */
export interface Work {
  dest: LiveDestination;
  event: EnrichedEvent;
  outcome?: Outcome;
}

export type Outcome =
  | { kind: 'delivered'; at: number }
  | { kind: 'skipped'; why: string }
  | { kind: 'failed'; error: DeliveryError }
  /** `deferred`: not attempted because the destination is paused (breaker). */
  | { kind: 'retry'; error: RetryableError; deferred?: boolean };

export interface SendDeps {
  config: DeliveryConfig;
  /** Which lane this consumer serves (the breaker treats them differently). */
  lane?: Lane;
  fetch: typeof fetch;
  now: () => number;
}

/** Splits a destination's work into requests: same batch key, at most `batchSize` and `maxBatchBytes`. */
export function plan(items: Work[], dest: LiveDestination): Work[][] {
  const size = batchSizeOf(dest.def, dest.settings);
  const maxBytes = dest.def.maxBatchBytes ?? Number.POSITIVE_INFINITY;
  const groups = new Map<string, Work[][]>();
  const bytes = new Map<Work[], number>();
  for (const item of items) {
    const key = dest.def.batchKey?.(item.event, dest.settings) ?? '';
    const lists = groups.get(key) ?? [];
    groups.set(key, lists);
    const n = JSON.stringify(item.event).length;
    let current = lists[lists.length - 1];
    if (!current || current.length >= size || (bytes.get(current) ?? 0) + n > maxBytes) {
      current = [];
      lists.push(current);
    }
    current.push(item);
    bytes.set(current, (bytes.get(current) ?? 0) + n);
  }
  return [...groups.values()].flat();
}

/** Builds the request for a group; a permanent mapping error in a group is isolated per event. */
async function build(
  dest: LiveDestination,
  items: Work[],
  now: number,
): Promise<[Work[], RequestDescription | null][]> {
  const ctx = { now: new Date(now), destinationId: dest.id, destinationName: dest.name };
  try {
    return [
      [
        items,
        await dest.def.map(
          items.map((i) => i.event),
          dest.settings,
          ctx,
        ),
      ],
    ];
  } catch (err) {
    if (items.length > 1 && err instanceof PermanentError) {
      return (await Promise.all(items.map((i) => build(dest, [i], now)))).flat();
    }
    const error =
      err instanceof PermanentError
        ? err
        : new PermanentError(
            `The ${dest.def.name} mapping failed: ${err instanceof Error ? err.message : String(err)}`,
          );
    for (const i of items) i.outcome = { kind: 'failed', error };
    return [];
  }
}

/** Sends one group as one request and records the outcome on each of its items. */
async function sendGroup(dest: LiveDestination, items: Work[], deps: SendDeps): Promise<void> {
  const { config, now } = deps;
  for (const [group, req] of await build(dest, items, now())) {
    if (!req) {
      for (const i of group) i.outcome = { kind: 'skipped', why: 'nothing to send for this event' };
      continue;
    }
    // Paused (before or while this batch ran: a request hung or was rate-limited): don't pile on.
    const paused = pausedFor(dest.id, now(), deps.lane ?? 'fresh');
    if (paused.ms > 0) {
      const error = new RetryableError(`Destination paused: ${paused.reason}`, { retryAfterMs: paused.ms });
      for (const i of group) i.outcome = { kind: 'retry', error, deferred: true };
      continue;
    }
    const result = await perform(req, {
      timeoutMs: config.timeoutMs,
      allowLoopback: config.allowLoopback,
      fetch: deps.fetch,
      now,
      bodyError: dest.def.bodyError,
    });
    if (result.ok) {
      recordSuccess(dest.id);
      for (const i of group) i.outcome = { kind: 'delivered', at: now() };
    } else if (result.error instanceof RetryableError) {
      const error = result.error;
      const kind = result.failure === 'timeout' || result.failure === 'network' ? result.failure : 'status';
      recordFailure(
        dest.id,
        now(),
        { kind, retryAfterMs: error.retryAfterMs, message: error.message },
        config.backoffBaseSeconds * 1000,
      );
      for (const i of group) i.outcome = { kind: 'retry', error };
    } else {
      for (const i of group) i.outcome = { kind: 'failed', error: result.error };
    }
  }
}

/**
 * Delivers one destination's share of a consumer batch, at most `perDestinationConcurrency`
 * requests at a time, so a hanging vendor holds only a few of the invocation's connections.
 */
export async function deliverTo(dest: LiveDestination, items: Work[], deps: SendDeps): Promise<void> {
  const queue = plan(items, dest);
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) await sendGroup(dest, group, deps);
  };
  await Promise.all(Array.from({ length: Math.min(deps.config.perDestinationConcurrency, queue.length) }, worker));
}
