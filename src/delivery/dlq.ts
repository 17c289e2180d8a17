import { DeliveryLog } from './log';
import type { DeadLetterMessage, DeliveryFailure } from './messages';
import { route } from './routing';
import { loadLiveDestinations } from './store';

const GAVE_UP =
  'The delivery queue gave up on this event after repeated consumer failures (max_retries); replay it once the cause is fixed';

/**
 * The `delivery-dlq` consumer: writes the dead-letter record (`delivery_failures`, failed
 * counters) in one D1 batch. Besides the failures the delivery consumer dead-lettered with the
 * vendor's answer, it receives raw delivery messages the queue itself gave up on.
 */
export async function consumeDeliveryDlq(batch: MessageBatch<DeadLetterMessage>, env: Cloudflare.Env): Promise<void> {
  const now = Date.now();
  const log = new DeliveryLog(now);
  const failedAt = new Date(now).toISOString();
  let dests: Awaited<ReturnType<typeof loadLiveDestinations>> | undefined;
  for (const msg of batch.messages) {
    const body = msg.body;
    let failures: DeliveryFailure[] = [];
    if (body.kind === 'failed') failures = [body];
    else if (body.kind === 'attempt') {
      failures = [
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
    } else if (body.kind === 'event') {
      dests ??= await loadLiveDestinations(env.DB);
      failures = route(body, dests).flatMap((r) =>
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
      );
    }
    for (const f of failures) log.failed(f);
  }
  try {
    await log.flush(env.DB);
    batch.ackAll();
  } catch (err) {
    console.error('delivery-dlq: could not record failures; retrying the batch', err);
    batch.retryAll({ delaySeconds: 10 });
  }
}
