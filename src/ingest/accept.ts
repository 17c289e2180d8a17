import type { Context } from 'hono';
import type { SourceRow } from '../db/schema';
import { runInsertsOver } from '../functions/insert';
import { recordInvocations } from '../functions/invocations';
import { functionsConfig } from '../functions/store';
import { governEvents, recordGovernance } from '../governance/enforce';
import { ApiError, unauthorized } from '../lib/errors';
import type { JsonObject } from '../lib/json';
import { enforceRateLimit } from '../privacy/rate-limit';
import { dropSuppressed } from '../privacy/suppression';
import { collect } from './collect';
import { enqueueIngest } from './enqueue';
import { pixelFromDevice } from './enrich';
import { tapLater } from './live-tap';
import { countRejected } from './rejected-keys';
import { type KeyLookup, lookupWriteKey } from './sources';
import type { EventType, IngestMessage } from './spec';

type Env = { Bindings: Cloudflare.Env };

/** How a request carries its events: one, a batch (fields merged), a pixel, or a source function's output. */
export type AcceptMode = 'single' | 'batch' | 'pixel' | 'function';

/** Write key as Basic username (Segment's servers and SDKs) or `writeKey` in the body (browsers). */
export function writeKeyOf(req: Request, body: JsonObject): string | undefined {
  const auth = req.headers.get('authorization');
  if (auth?.toLowerCase().startsWith('basic ')) {
    try {
      const decoded = atob(auth.slice(6).trim());
      const user = decoded.split(':')[0];
      if (user) return user;
    } catch {
      throw unauthorized('Authorization header is not valid Basic credentials');
    }
  }
  return typeof body.writeKey === 'string' && body.writeKey ? body.writeKey : undefined;
}

/**
 * Authenticates, validates, enriches and makes durable. Answers 2xx only once the events are in
 * the ingest queue; the debugger is written after the answer. `batch` mode merges the body's
 * batch-level fields into each item; `pixel` is a single event loaded by the user's device.
 */
export async function accept(
  c: Context<Env>,
  body: JsonObject,
  items: unknown[],
  forcedType: EventType | undefined,
  mode: 'single' | 'batch' | 'pixel',
) {
  const writeKey = writeKeyOf(c.req.raw, body);
  if (!writeKey) throw unauthorized('Missing write key: send it as the Basic username or as `writeKey`');
  const match = await lookupWriteKey(c.env.DB, writeKey, keepAliveOf(c));
  if (!match.source) return dropForKey(c, writeKey, match, items.length);
  await enforceRateLimit(c, match.source.id); // 429 + Retry-After over the source's tier (src/privacy)
  return acceptForSource(c, match.source, body, items, forcedType, mode, match.key === 'previous');
}

/** The accept step once the source is known (by write key, or by a source function's instance). */
export async function acceptForSource(
  c: Context<Env>,
  source: SourceRow,
  body: JsonObject,
  items: unknown[],
  forcedType: EventType | undefined,
  mode: AcceptMode,
  previousKey = false,
) {
  const req = c.req.raw;
  const ip = req.headers.get('cf-connecting-ip') ?? req.headers.get('x-real-ip') ?? undefined;
  const cf = (req as { cf?: Record<string, unknown> }).cf;
  const fromDevice = mode === 'pixel' && pixelFromDevice(req.headers.get('user-agent'));
  const facts = { receivedAt: new Date(), ip, cf, fromDevice };
  const result = collect(items, facts, { forcedType, batch: mode === 'batch' ? body : undefined });
  // Suppressed people (regulations): their events go nowhere, the debugger included.
  await dropSuppressed(c.env, source.id, result, c.executionCtx);
  // The source's tracking plan: blocked events are dropped here, before anything is stored; the
  // answer to the client does not change (Segment's SDKs must not retry over governance).
  const governed = await governEvents(c.env.DB, source.id, result.accepted, result.debug, keepAliveOf(c));
  // The debugger gets the entries in a per-isolate batch after the answer (src/ingest/live-tap.ts).
  const debug = previousKey ? result.debug.map((e) => ({ ...e, writeKey: 'previous' as const })) : result.debug;
  tapLater(c.env, c.executionCtx, source.id, debug);
  c.executionCtx.waitUntil(recordGovernance(c.env.DB, source.id, result.accepted, governed));
  // The source's insert functions, after governance (src/functions/insert.ts).
  const inserts = (await functionsConfig(c.env, Date.now(), keepAliveOf(c))).insertsOfSource.get(source.id);
  const inserted = await runInsertsOver(c.env, inserts, governed.accepted);
  if (inserted.ran.length) c.executionCtx.waitUntil(recordInvocations(c.env.DB, inserted.ran).catch(logFailure));

  if (mode !== 'batch' && mode !== 'function' && result.rejected.length) {
    const r = result.rejected[0];
    throw new ApiError(r.code === 'event_too_large' ? 413 : 400, r.code, r.message);
  }
  const messages: IngestMessage[] = [
    ...inserted.events.map((event) => ({ sourceId: source.id, event })),
    ...governed.extra,
  ];
  try {
    await enqueueIngest(c.env.INGEST_QUEUE, messages);
  } catch (err) {
    console.error('enqueue failed', err);
    throw new ApiError(503, 'unavailable', 'Events could not be stored; retry the request');
  }
  if (!result.rejected.length) return c.json({ success: true });
  return c.json({ success: true, accepted: result.accepted.length, rejected: result.rejected });
}

/**
 * The request's `waitUntil`, for the caches on this path (key, rate tier, suppression, governance,
 * functions): they revalidate in the background past half their TTL, so a request awaits D1 only
 * when an entry is missing or expired. Locally D1 shares the pipeline's one thread, where an
 * awaited read waits behind the consumers' D1 work.
 */
const keepAliveOf = (c: Context<Env>) => (p: Promise<unknown>) => c.executionCtx.waitUntil(p);

const logFailure = (err: unknown) => console.warn('function invocations could not be recorded', err);

/**
 * An unknown, disabled or retired write key: answered 200 and dropped, as Segment does, because
 * SDKs such as the legacy analytics-node crash their host process on a 4xx. Counted for
 * `GET /api/ingest/rejected-keys` after the response.
 */
function dropForKey(c: Context<Env>, writeKey: string, refused: Extract<KeyLookup, { source: null }>, events: number) {
  const { reason, sourceId } = refused;
  const userAgent = c.req.header('user-agent');
  c.executionCtx.waitUntil(countRejected(c.env.DB, { writeKey, reason, sourceId, events, userAgent, at: new Date() }));
  return c.json({ success: true });
}

export type AcceptFn = typeof accept;
