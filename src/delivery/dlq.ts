import { sealFailure } from '../privacy/pii-guard';
import { DeliveryLog } from './log';
import type { DeadLetterMessage, DeliveryFailure } from './messages';
import { type LiveDestination, route } from './routing';
import { loadLiveDestinations } from './store';
import { readBody, type UnhandledMessage, unhandled, unhandledStatement } from './unhandled';

const GAVE_UP =
  'The delivery queue gave up on this event after repeated consumer failures (max_retries); replay it once the cause is fixed';

/** `max_retries` of the `tessera-delivery-dlq` consumer in wrangler.toml: keep the two equal. */
export const DLQ_MAX_RETRIES = 20;

/** Where the last resort keeps a dead letter that D1 would not take (R2 `ARCHIVE`). */
export const LAST_RESORT_PREFIX = 'dead-letters/delivery/';

/** The destinations could not be loaded (D1): the message is retried, not recorded as unhandled. */
class DestinationsUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super(`destinations could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** Growing delays while D1 refuses (10 s, 20 s, … up to an hour): about a day in all. */
const retryDelay = (attempts: number) => Math.min(3600, 10 * 2 ** (attempts - 1));

/** The failure records a dead-letter message stands for. */
function failuresOf(
  msg: Message<DeadLetterMessage>,
  body: DeadLetterMessage,
  dests: () => Promise<LiveDestination[]>,
  failedAt: string,
): Promise<DeliveryFailure[]> | DeliveryFailure[] {
  if (body.kind === 'failed') return [body];
  if (body.kind === 'attempt') {
    return [
      {
        kind: 'failed',
        destinationId: body.destinationId,
        sourceId: body.sourceId,
        event: body.event,
        attempts: body.priorAttempts + msg.attempts,
        firstAttemptAt: body.firstAttemptAt,
        failedAt,
        error: GAVE_UP,
      },
    ];
  }
  if (body.kind === 'attempts') {
    return body.attempts.map((a) => ({
      kind: 'failed' as const,
      destinationId: body.destinationId,
      sourceId: a.sourceId,
      event: a.event,
      attempts: (Number(a.priorAttempts) || 0) + msg.attempts,
      firstAttemptAt: a.firstAttemptAt,
      failedAt,
      error: GAVE_UP,
    }));
  }
  if (body.kind === 'events' || body.kind === 'event') {
    const events = body.kind === 'events' ? body.events : [body];
    return dests().then((list) =>
      events.flatMap((body) =>
        route(body, list).flatMap((r) =>
          'dropped' in r
            ? []
            : [
                {
                  kind: 'failed' as const,
                  destinationId: r.dest.id,
                  sourceId: body.sourceId,
                  event: r.event,
                  attempts: 1,
                  firstAttemptAt: failedAt,
                  failedAt,
                  error: GAVE_UP,
                },
              ],
        ),
      ),
    );
  }
  throw new TypeError(`not a delivery dead letter (kind ${JSON.stringify((body as { kind?: unknown }).kind)})`);
}

/** One message's record: its failures, or what is known of it when it could not be read or routed. */
interface Entry {
  msg: Message<DeadLetterMessage>;
  statements: D1PreparedStatement[];
  /** Recorded under `*` when the message's own statements fail (or it could not be read). */
  fallback: UnhandledMessage;
}

/**
 * The `delivery-dlq` consumer: writes the dead-letter record (`delivery_failures`, failed
 * counters). Besides the failures the delivery consumer dead-lettered with the vendor's answer,
 * it receives raw delivery messages the queue itself gave up on. It never drops one: each message
 * is read and recorded on its own (one that cannot be read, routed or stored is recorded under
 * `*` with its body as far as it serialises); a message D1 does not take is retried with growing
 * delays, and on its last attempt written to R2 as a last resort.
 */
export async function consumeDeliveryDlq(
  batch: MessageBatch<DeadLetterMessage>,
  env: Cloudflare.Env,
  archive: Pick<R2Bucket, 'put'> = env.ARCHIVE,
): Promise<void> {
  const now = Date.now();
  const failedAt = new Date(now).toISOString();
  let destinations: Promise<LiveDestination[]> | undefined;
  const dests = () => {
    destinations ??= loadLiveDestinations(env).catch((err) => {
      throw new DestinationsUnavailable(err);
    });
    return destinations;
  };
  const entries: Entry[] = [];
  for (const msg of batch.messages) {
    const read = readBody(msg);
    if (!read.ok) {
      const u = unhandled(msg, batch.queue, read.error, now);
      entries.push({ msg, statements: [unhandledStatement(env.DB, u)], fallback: u });
      continue;
    }
    try {
      const log = new DeliveryLog(now);
      // The recorded event keeps its PII sealed, as profiles keep it (replays are opened again).
      for (const f of await failuresOf(msg, read.body, dests, failedAt)) log.failed(await sealFailure(env, f));
      const fallback = unhandled(msg, batch.queue, new Error('D1 refused its failure record'), now, {
        value: read.body,
      });
      entries.push({ msg, statements: log.statements(env.DB), fallback });
    } catch (err) {
      // Not the message's fault: try it again later, when its destinations can be read.
      if (err instanceof DestinationsUnavailable && msg.attempts <= DLQ_MAX_RETRIES) {
        msg.retry({ delaySeconds: retryDelay(msg.attempts) });
        continue;
      }
      const u = unhandled(msg, batch.queue, err, now, { value: read.body });
      entries.push({ msg, statements: [unhandledStatement(env.DB, u)], fallback: u });
    }
  }

  const run = async (statements: D1PreparedStatement[]) => {
    if (statements.length) await env.DB.batch(statements);
  };
  try {
    await run(entries.flatMap((e) => e.statements));
    for (const e of entries) e.msg.ack();
    return;
  } catch (err) {
    console.error('delivery-dlq: recording the batch failed; recording its messages one by one', err);
  }
  for (const e of entries) {
    try {
      await run(e.statements);
      e.msg.ack();
      continue;
    } catch {}
    try {
      await run([unhandledStatement(env.DB, e.fallback)]);
      e.msg.ack();
      continue;
    } catch (err) {
      console.error(`delivery-dlq: D1 did not take message ${e.msg.id}`, err);
    }
    if (e.msg.attempts <= DLQ_MAX_RETRIES) {
      // D1 is down or refusing: wait longer each time (up to an hour) before the next try.
      e.msg.retry({ delaySeconds: retryDelay(e.msg.attempts) });
      continue;
    }
    // Last attempt: the queue would drop it next, so keep the raw body in R2 (and in the logs).
    const raw = JSON.stringify({ queue: batch.queue, id: e.msg.id, ...e.fallback });
    try {
      await archive.put(`${LAST_RESORT_PREFIX}${failedAt.slice(0, 10)}/${e.msg.id}.json`, raw);
      e.msg.ack();
    } catch (err) {
      console.error(`delivery-dlq: last resort failed too; the dead letter follows: ${raw}`, err);
      e.msg.retry({ delaySeconds: 3600 });
    }
  }
}
