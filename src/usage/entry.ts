import { bodyBytes, meterEnv, noteMessage } from './bindings';
import { usage } from './counters';
import { maybeFlush } from './flush';

/** The stage a request belongs to, from its path. */
export function stageOfPath(path: string): string {
  if (path.startsWith('/v1/spaces')) return 'profile-api';
  if (path.startsWith('/v1/personalize')) return 'personalize';
  if (path.startsWith('/v1/')) return 'ingest';
  if (path.startsWith('/api/')) return 'admin';
  return 'web';
}

type Handler<E> = (req: Request, env: E, ctx: ExecutionContext) => Response | Promise<Response>;

/** The fetch entry point, metered: one invocation, bindings counted, counters flushed after the answer. */
export function meteredFetch<E extends { DB: D1Database }>(handler: Handler<E>): Handler<E> {
  return async (req, env, ctx) => {
    meterOutboundFetch();
    const stage = stageOfPath(new URL(req.url).pathname);
    usage.add({ stage, unit: 'worker.invocations', detail: 'fetch' });
    try {
      return await handler(req, meterEnv(env, stage), ctx);
    } finally {
      maybeFlush(env, (p) => ctx.waitUntil(p));
    }
  };
}

/**
 * A queue batch whose messages count their reads (every delivery, retries included) and deletes
 * (an ack, or the implicit ack of a batch that returns), per 64 KB.
 */
function meterBatch<B>(batch: MessageBatch<B>, stage: string): { batch: MessageBatch<B>; settle(ok: boolean): void } {
  const q = batch.queue;
  const open = new Set<Message<B>>();
  const sizes = new Map<Message<B>, number>();
  const ack = (m: Message<B>) => {
    if (!open.delete(m)) return;
    noteMessage(stage, q, sizes.get(m) ?? 0, false);
  };
  const messages = batch.messages.map((m) => {
    const bytes = bodyBytes(m.body);
    noteMessage(stage, q, bytes, false);
    open.add(m);
    sizes.set(m, bytes);
    return new Proxy(m, {
      get(target, prop) {
        if (prop === 'ack')
          return () => {
            target.ack();
            ack(target);
          };
        if (prop === 'retry')
          return (options?: QueueRetryOptions) => {
            target.retry(options);
            open.delete(target);
          };
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  });
  const overrides: Record<PropertyKey, unknown> = {
    messages,
    ackAll() {
      batch.ackAll();
      for (const m of [...open]) ack(m);
    },
    retryAll(options?: QueueRetryOptions) {
      batch.retryAll(options);
      open.clear();
    },
  };
  const metered = new Proxy(batch, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop];
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    batch: metered,
    // A handler that returns acks what it left open; one that throws retries it.
    settle(ok) {
      if (ok) for (const m of [...open]) ack(m);
      open.clear();
    },
  };
}

type QueueHandler<E> = (batch: MessageBatch, env: E, ctx?: ExecutionContext) => Promise<void>;

/** The queue entry point, metered per batch. */
export function meteredQueue<E extends { DB: D1Database }>(handler: QueueHandler<E>): QueueHandler<E> {
  return async (batch, env, ctx) => {
    meterOutboundFetch();
    const stage = `${batch.queue.replace(/^tessera-/, '')}-consumer`;
    usage.add({ stage, unit: 'worker.invocations', detail: `queue ${batch.queue}` });
    const m = meterBatch(batch, stage);
    let ok = false;
    try {
      await handler(m.batch, meterEnv(env, stage), ctx);
      ok = true;
    } finally {
      m.settle(ok);
      maybeFlush(env, (p) => (ctx ? ctx.waitUntil(p) : p.catch(() => undefined)));
    }
  };
}

let fetchMetered = false;

/** Counts the Worker's outbound requests (destinations, DNS over HTTPS): free, but a unit of work. */
export function meterOutboundFetch(): void {
  if (fetchMetered) return;
  fetchMetered = true;
  const original = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    usage.add({ stage: 'outbound', unit: 'outbound.requests' });
    return original(input, init);
  }) as typeof fetch;
}
