import { app } from './app';
import { consumeArchive } from './archive/consumer';
import type { ArchiveMessage, ReplayStep } from './archive/messages';
import { runReplayStep } from './archive/replay';
import { archiveCron } from './archive/retention';
import { consumeEngageWork, type EngageWorkMessage } from './audiences/backfill-consumer';
import { consumeWorkDlq } from './audiences/work-failures';
import { consumeDelivery } from './delivery/consumer';
import { consumeDeliveryDlq } from './delivery/dlq';
import type { DeadLetterMessage, DeliveryMessage } from './delivery/messages';
import { consumeIngest } from './ingest/consumer';
import { consumeIngestDlq } from './ingest/dead-letters';
import type { IngestMessage } from './ingest/spec';
import { consumeRegulations, splitWork } from './privacy/runner';

export { FunctionOutbound } from './functions/outbound';
export { IdentityIndex } from './identity/index-do';
export { LiveTap } from './ingest/live-tap';
export { Profile } from './profiles/profile-do';

/** Entrypoints only: every piece of logic lives in its area folder. */
export default {
  fetch: app.fetch,
  scheduled: (_controller, env, ctx) => ctx.waitUntil(archiveCron(env)),
  async queue(batch, env) {
    switch (batch.queue) {
      case 'tessera-ingest':
        return consumeIngest(batch as MessageBatch<IngestMessage>, env);
      case 'tessera-ingest-dlq':
        return consumeIngestDlq(batch as MessageBatch<IngestMessage>, env);
      case 'tessera-delivery':
      case 'tessera-delivery-retry':
        return consumeDelivery(batch as MessageBatch<DeliveryMessage>, env);
      case 'tessera-delivery-dlq':
        return consumeDeliveryDlq(batch as MessageBatch<DeadLetterMessage>, env);
      case 'tessera-archive':
        return consumeArchive(batch as MessageBatch<ArchiveMessage>, env);
      case 'tessera-replay':
        return runReplayStep(batch as MessageBatch<ReplayStep>, env);
      case 'tessera-work': {
        const { runs, rest } = splitWork(batch); // regulations (src/privacy) and audience work
        if (runs.length) await consumeRegulations(runs, env);
        return rest.messages.length ? consumeEngageWork(rest, env) : undefined;
      }
      case 'tessera-work-dlq':
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
  },
} satisfies ExportedHandler<Cloudflare.Env>;
