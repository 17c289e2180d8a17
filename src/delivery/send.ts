import { type DeliveryError, PermanentError, RetryableError } from '../destinations/errors';
import { batchSizeOf, type RequestDescription } from '../destinations/types';
import type { EnrichedEvent } from '../ingest/spec';
import { forEachLimited } from '../lib/pool';
import { isSuspect, isTrusted, type Lane, pausedFor, recordFailure, recordSuccess } from './breaker';
import { type DeliveryConfig, INVOCATION_CONNECTIONS } from './config';
import { perform } from './perform';
import type { LiveDestination } from './routing';

/** One event on its way to one destination, and what became of it. */
export interface Work {
  dest: LiveDestination;
  event: EnrichedEvent;
  outcome?: SendOutcome;
}

export type SendOutcome =
  | { kind: 'delivered'; at: number }
  | { kind: 'skipped'; why: string }
  | { kind: 'failed'; error: DeliveryError }
  /**
   * `deferred`: not attempted because the destination is paused (breaker). `hop`: handed from
   * the fresh lane to the retry lane at once (degraded, too slow for the fresh lane's budget, or
   * not reached before the budget ran out), to be sent there within a second. `cut`: the fresh
   * lane's budget cut the request while the vendor, not a stalled thread, took the time (a slow mark).
   */
  | { kind: 'retry'; error: RetryableError; deferred?: boolean; hop?: boolean; cut?: boolean };

export interface SendDeps {
  config: DeliveryConfig;
  /** Which lane this consumer serves (the breaker treats them differently). */
  lane?: Lane;
  fetch: typeof fetch;
  now: () => number;
  /** Where a URL's name resolves (DoH), in production mode; see `resolve.ts`. */
  resolve?: (url: string) => Promise<string | undefined>;
  /**
   * The fresh lane's deadline (epoch ms) for this batch: no request starts after it (a destination
   * whose requests all answered well and fast in this batch may go on for `CLEAN_GRACE_BUDGETS`
   * more budgets), and each one is cut after `freshBudgetMs` (four times that for a trusted
   * vendor). Absent in the retry lane, which waits the full timeout.
   */
  deadline?: number;
  /** Destinations this batch delivers to at once: they share the invocation's connections. */
  sharing?: number;
  /**
   * Milliseconds the thread was busy elsewhere since the fresh lane's batch began (`stall.ts`):
   * the deadline and a request's time are judged without it. Absent: none.
   */
  stalled?: () => number;
}

/** Below this much time left, a request is not started in the fresh lane. */
const MIN_REQUEST_MS = 25;

/** A trusted destination's requests may take this many fresh budgets before they are cut. */
const TRUSTED_BUDGET_FACTOR = 4;

/**
 * Fresh budgets past the batch's deadline that a destination whose every request in this batch
 * answered well and fast may go on sending: hopping its events to the retry lane would only
 * delay them (a second and the retry lane's batch wait) while its requests keep answering.
 */
const CLEAN_GRACE_BUDGETS = 3;

/** How a destination's requests went in this batch so far: any failure, cut or slow answer ends `clean`. */
interface BatchRun {
  clean: boolean;
}

/** Splits a destination's work into requests: same batch key, at most `batchSize` and `maxBatchBytes`. */
export function plan(items: Work[], dest: LiveDestination): Work[][] {
  const size = batchSizeOf(dest.def, dest.settings);
  const maxBytes = dest.def.maxBatchBytes ?? Number.POSITIVE_INFINITY;
  const groups = new Map<string, Work[][]>();
  const bytes = new Map<Work[], number>();
  for (const item of items) {
    let n: number;
    let key: string;
    try {
      // A pathological event (one JSON cannot serialise, a batch key that throws) fails on its own.
      n = JSON.stringify(item.event).length;
      key = dest.def.batchKey?.(item.event, dest.settings) ?? '';
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      item.outcome = { kind: 'failed', error: new PermanentError(`The event cannot be serialised: ${why}`) };
      continue;
    }
    const lists = groups.get(key) ?? [];
    groups.set(key, lists);
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
    if (items.length > 1) {
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
async function sendGroup(dest: LiveDestination, items: Work[], deps: SendDeps, run: BatchRun): Promise<void> {
  const { config, now } = deps;
  if (dest.def.deliver) {
    // Code that sends itself (a destination function): its errors already say retry or not.
    const errors = await dest.def.deliver(
      items.map((i) => i.event),
      dest.settings,
    );
    items.forEach((i, n) => {
      const error = errors[n];
      i.outcome = !error
        ? { kind: 'delivered', at: now() }
        : error instanceof RetryableError
          ? { kind: 'retry', error }
          : { kind: 'failed', error };
    });
    return;
  }
  for (const [group, req] of await build(dest, items, now())) {
    if (!req) {
      for (const i of group) i.outcome = { kind: 'skipped', why: 'nothing to send for this event' };
      continue;
    }
    // Paused (before or while this batch ran: a request hung or was rate-limited): don't pile on.
    const paused = pausedFor(dest.id, now(), deps.lane ?? 'fresh');
    if (paused.degraded) {
      const error = new RetryableError(`Served from the retry lane while it is slow: ${paused.reason}`, paused.last);
      for (const i of group) i.outcome = { kind: 'retry', error, hop: true };
      continue;
    }
    if (paused.ms > 0) {
      const error = new RetryableError(`Destination paused: ${paused.reason}`, {
        ...paused.last,
        retryAfterMs: paused.ms,
      });
      for (const i of group) i.outcome = { kind: 'retry', error, deferred: true };
      continue;
    }
    // The fresh lane starts no request past its deadline (what is left goes to the retry lane;
    // a destination clean in this batch, a little later), and gives each one its budget: longer for a trusted vendor, whose cut request may well
    // have been taken (a cut is sent again, like a timeout), the short one otherwise.
    // Both on the batch's clock less the thread's stalls, which held every destination alike.
    const live = () => now() - (deps.stalled?.() ?? 0);
    const late = deps.deadline !== undefined && deps.deadline - live() < MIN_REQUEST_MS;
    const grace =
      run.clean && deps.deadline !== undefined && live() < deps.deadline + CLEAN_GRACE_BUDGETS * config.freshBudgetMs;
    if (late && !grace) {
      const error = new RetryableError("Not sent within the fresh lane's time for its batch; sent from the retry lane");
      for (const i of group) i.outcome = { kind: 'retry', error, hop: true };
      continue;
    }
    const budget = isTrusted(dest.id, now()) ? TRUSTED_BUDGET_FACTOR * config.freshBudgetMs : config.freshBudgetMs;
    const timeoutMs = deps.deadline === undefined ? config.timeoutMs : Math.min(config.timeoutMs, budget);
    const startedAt = live();
    const result = await perform(req, {
      timeoutMs,
      allowLoopback: config.allowLoopback,
      fetch: deps.fetch,
      now,
      bodyError: dest.def.bodyError,
      resolve: deps.resolve,
    });
    // Slow is half the short budget: such a destination gets no grace past the deadline.
    const took = live() - startedAt;
    if (!result.ok || took > config.freshBudgetMs / 2) run.clean = false;
    if (result.ok) {
      recordSuccess(dest.id, now());
      for (const i of group) i.outcome = { kind: 'delivered', at: now() };
    } else if (result.failure === 'timeout' && timeoutMs < config.timeoutMs) {
      // Cut short by the fresh lane's budget, not a hang yet: the retry lane waits the full timeout.
      const error = new RetryableError(
        `No answer within the fresh lane's ${Math.round(timeoutMs)} ms; sent again from the retry lane, which waits ${config.timeoutMs} ms`,
      );
      // Counted slow only if the vendor took the time, not a stalled thread.
      const cut = took > timeoutMs / 2;
      for (const i of group) i.outcome = { kind: 'retry', error, hop: true, cut };
    } else if (result.error instanceof RetryableError) {
      const error = result.error;
      const kind = result.failure === 'timeout' || result.failure === 'network' ? result.failure : 'status';
      recordFailure(
        dest.id,
        now(),
        {
          kind,
          retryAfterMs: error.retryAfterMs,
          message: error.message,
          status: error.status,
          response: error.response,
        },
        config.backoffBaseSeconds * 1000,
      );
      for (const i of group) i.outcome = { kind: 'retry', error };
    } else {
      for (const i of group) i.outcome = { kind: 'failed', error: result.error };
    }
  }
}

/**
 * Delivers one destination's share of a consumer batch, at most its share of the invocation's
 * connections at a time (all six when it is alone, `perDestinationConcurrency` at most), so a
 * hanging vendor holds only its share.
 */
export async function deliverTo(dest: LiveDestination, items: Work[], deps: SendDeps): Promise<void> {
  const queue = plan(items, dest);
  if (!queue.length) return;
  // In the fresh lane, a destination that just failed or was slow holds at most one of the
  // invocation's connections (they are shared with the healthy destinations of the batch). The
  // retry lane keeps probing with several, so one recovered event is found among failing ones.
  const suspect = (deps.lane ?? 'fresh') === 'fresh' && isSuspect(dest.id, deps.now());
  const share = Math.max(1, Math.floor(INVOCATION_CONNECTIONS / Math.max(1, deps.sharing ?? 1)));
  const width = suspect ? 1 : Math.min(deps.config.perDestinationConcurrency, share);
  const run: BatchRun = { clean: !suspect };
  await forEachLimited(queue, width, (group) => sendGroup(dest, group, deps, run));
  // One slow mark per batch, however many of its requests the deadline cut.
  const cut = items.find((i) => i.outcome?.kind === 'retry' && i.outcome.cut);
  if (cut?.outcome?.kind === 'retry') {
    const { config } = deps;
    recordFailure(
      dest.id,
      deps.now(),
      { kind: 'slow', message: cut.outcome.error.message },
      config.backoffBaseSeconds * 1000,
    );
  }
}
