import { app } from './app';
import { consumeEngageWork, type EngageWorkMessage } from './audiences/backfill-consumer';
import { consumeWorkDlq } from './audiences/work-failures';
import { consumeDelivery } from './delivery/consumer';
import { consumeDeliveryDlq } from './delivery/dlq';
import type { DeadLetterMessage, DeliveryMessage } from './delivery/messages';
import { IdentityIndex as IdentityIndexObject } from './identity/index-do';
import { consumeIngest } from './ingest/consumer';
import { consumeIngestDlq } from './ingest/dead-letters';
import { LiveTap as LiveTapObject } from './ingest/live-tap';
import type { IngestMessage } from './ingest/spec';
import { Profile as ProfileObject } from './profiles/profile-do';
import { meteredDurableObject } from './usage/durable';
import { meteredFetch, meteredQueue } from './usage/entry';

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
  queue: meteredQueue(async (batch, env) => {
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
      case 'tessera-work':
        return consumeEngageWork(batch as MessageBatch<EngageWorkMessage>, env);
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
  }),
} satisfies ExportedHandler<Cloudflare.Env>;
