import { app } from './app';
import { consumeArchive } from './archive/consumer';
import type { ArchiveMessage, ReplayStep } from './archive/messages';
import { runReplayStep } from './archive/replay';
import { archiveCron } from './archive/retention';
import { consumeEngageWork } from './audiences/backfill-consumer';
import { consumeWorkDlq } from './audiences/work-failures';
import type { EngageWorkMessage } from './audiences/work-messages';
import { consumeDelivery } from './delivery/consumer';
import { consumeDeliveryDlq } from './delivery/dlq';
import type { DeadLetterMessage, DeliveryMessage } from './delivery/messages';
import { IdentityIndex as IdentityIndexObject } from './identity/index-do';
import { consumeIngest } from './ingest/consumer';
import { consumeIngestDlq } from './ingest/dead-letters';
import { LiveTap as LiveTapObject } from './ingest/live-tap';
import type { IngestMessage } from './ingest/spec';
import { QUEUES } from './lib/queue';
import { consumeRegulations, splitWork } from './privacy/runner';
import { Profile as ProfileObject } from './profiles/profile-do';
import { meteredDurableObject } from './usage/durable';
import { meteredFetch, meteredQueue } from './usage/entry';

export { FunctionOutbound } from './functions/outbound';

// Each Durable Object class is exported metered (its SQLite rows, alarms and bindings counted).
export const IdentityIndex = meteredDurableObject(IdentityIndexObject, 'IdentityIndex');
export type IdentityIndex = IdentityIndexObject;
export const LiveTap = meteredDurableObject(LiveTapObject, 'LiveTap');
export type LiveTap = LiveTapObject;
export const Profile = meteredDurableObject(ProfileObject, 'Profile');
export type Profile = ProfileObject;

/** Entrypoints only: every piece of logic lives in its area folder. */
export default {
  fetch: meteredFetch(app.fetch),
  scheduled: (_controller, env, ctx) => ctx.waitUntil(archiveCron(env)),
  queue: meteredQueue(async (batch, env) => {
    switch (batch.queue) {
      case QUEUES.ingest:
        return consumeIngest(batch as MessageBatch<IngestMessage>, env);
      case QUEUES.ingestDlq:
        return consumeIngestDlq(batch as MessageBatch<IngestMessage>, env);
      case QUEUES.delivery:
      case QUEUES.deliveryRetry:
        return consumeDelivery(batch as MessageBatch<DeliveryMessage>, env);
      case QUEUES.deliveryDlq:
        return consumeDeliveryDlq(batch as MessageBatch<DeadLetterMessage>, env);
      case QUEUES.archive:
        return consumeArchive(batch as MessageBatch<ArchiveMessage>, env);
      case QUEUES.replay:
        return runReplayStep(batch as MessageBatch<ReplayStep>, env);
      case QUEUES.work: {
        const { runs, rest } = splitWork(batch); // regulations (src/privacy) and audience work
        if (runs.length) await consumeRegulations(runs, env);
        return rest.messages.length ? consumeEngageWork(rest, env) : undefined;
      }
      case QUEUES.workDlq:
        return consumeWorkDlq(batch as MessageBatch<EngageWorkMessage>, env);
      default:
        // A queue wired to this Worker that no code handles (a renamed queue, a config ahead of the
        // code): acking would lose its messages, so say so and let them come back once it does.
        console.error(
          `no consumer for queue ${batch.queue}; retrying ${batch.messages.length} message(s)`,
          batch.messages.map((m) => m.id),
        );
        batch.retryAll({ delaySeconds: 300 });
    }
  }),
} satisfies ExportedHandler<Cloudflare.Env>;
