// The floor for `npm run bench -- --only pipeline` (scripts/bench-pipeline.mjs): the least a
// Worker of Tessera's shape does with an event. The Tracking API batch goes to a queue (durable
// before the answer); its consumer groups the events by user and hands each user's events to that
// user's SQLite Durable Object in one call, which writes every event (one row, deduplicated by
// messageId); then each event is posted to the webhook, one request per event, as Tessera's webhook
// destination does. No identity resolution, traits, audiences, outbox or delivery queue.
import { DurableObject } from 'cloudflare:workers';

export class User extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      'CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, type TEXT, body TEXT NOT NULL)',
    );
  }

  /** Writes the events in one transaction; answers the ones that were new. */
  apply(events) {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() =>
      events.filter(
        (e) =>
          sql.exec('INSERT OR IGNORE INTO events VALUES (?, ?, ?)', e.messageId, e.type, JSON.stringify(e)).rowsWritten >
          0,
      ),
    );
  }
}

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response('ok');
    const body = await request.json();
    if (!Array.isArray(body.batch)) return Response.json({ success: false }, { status: 400 });
    const receivedAt = new Date().toISOString();
    const events = body.batch.map((e) => ({ ...e, receivedAt, messageId: e.messageId ?? crypto.randomUUID() }));
    for (let i = 0; i < events.length; i += 100)
      await env.EVENTS.sendBatch(events.slice(i, i + 100).map((e) => ({ body: e, contentType: 'json' })));
    return Response.json({ success: true });
  },

  async queue(batch, env) {
    const byUser = new Map();
    for (const m of batch.messages) {
      const user = m.body.userId ?? m.body.anonymousId;
      byUser.set(user, [...(byUser.get(user) ?? []), m]);
    }
    await Promise.all(
      [...byUser].map(async ([user, messages]) => {
        try {
          const stub = env.USER.get(env.USER.idFromName(user));
          const fresh = await stub.apply(messages.map((m) => m.body));
          for (const e of fresh) {
            const res = await fetch(env.WEBHOOK_URL, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(e),
            });
            await res.arrayBuffer();
          }
          for (const m of messages) m.ack();
        } catch (err) {
          console.error('floor: user batch failed', err);
          for (const m of messages) m.retry();
        }
      }),
    );
  },
};
