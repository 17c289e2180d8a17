import type { IngestMessage } from './spec';

/**
 * The `ingest` queue consumer. Each message is one accepted event; messages are acked one by
 * one so a failure retries only itself. Identity resolution and profiles plug in here.
 */
export async function consumeIngest(batch: MessageBatch<IngestMessage>, _env: Cloudflare.Env): Promise<void> {
  for (const msg of batch.messages) {
    msg.ack();
  }
}
