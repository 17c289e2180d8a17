import { QUEUES } from '../lib/queue';
import { opsOf, usage } from './counters';
import { meterD1 } from './d1';

/** Queue names by producer binding, so sends and consumption count under one name. */
const QUEUE_NAMES: Record<string, string> = {
  INGEST_QUEUE: QUEUES.ingest,
  INGEST_DLQ: QUEUES.ingestDlq,
  DELIVERY_QUEUE: QUEUES.delivery,
  DELIVERY_RETRY_QUEUE: QUEUES.deliveryRetry,
  DELIVERY_DLQ: QUEUES.deliveryDlq,
  WORK_QUEUE: QUEUES.work,
  WORK_DLQ: QUEUES.workDlq,
};

/** Serialised size of a message body, as the queue stores it (JSON; UTF-16 length is close enough for 64 KB steps). */
export function bodyBytes(body: unknown): number {
  try {
    return typeof body === 'string' ? body.length : (JSON.stringify(body)?.length ?? 0);
  } catch {
    return 0;
  }
}

/** Counts one message written, read or deleted: a message and its 64 KB operations. */
export function noteMessage(stage: string, queue: string, bytes: number, alsoMessage = true): void {
  if (alsoMessage) usage.add({ stage, unit: 'queue.messages', detail: queue });
  usage.add({ stage, unit: 'queue.ops', detail: queue }, opsOf(bytes));
}

function meterQueue(q: Queue, queue: string, stage: string): Queue {
  const send = async (body: unknown, options?: QueueSendOptions) => {
    await q.send(body, options);
    noteMessage(stage, queue, bodyBytes(body));
  };
  const sendBatch = async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
    const list = [...messages];
    await q.sendBatch(list, options);
    for (const m of list) noteMessage(stage, queue, bodyBytes(m.body));
  };
  return new Proxy(q, {
    get(target, prop) {
      if (prop === 'send') return send;
      if (prop === 'sendBatch') return sendBatch;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Properties of an RPC stub that are not calls (reading them must not count as a request). */
const NOT_CALLS = new Set<PropertyKey>(['then', 'id', 'name', 'toJSON', 'constructor']);

function meterStub<T extends object>(stub: T, cls: string, stage: string): T {
  return new Proxy(stub, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof prop === 'symbol' || NOT_CALLS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        usage.add({ stage, unit: 'do.requests', detail: cls });
        return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
}

function meterNamespace(ns: DurableObjectNamespace, cls: string, stage: string): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      if (prop === 'get' || prop === 'getByName')
        return (...args: unknown[]) =>
          meterStub(Reflect.apply(value as (...a: unknown[]) => object, target, args), cls, stage);
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

const CLASS_A = new Set(['put', 'list', 'createMultipartUpload', 'resumeMultipartUpload']);
const CLASS_B = new Set(['get', 'head']);

function meterR2(bucket: R2Bucket, name: string, stage: string): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      const unit = CLASS_A.has(String(prop)) ? 'r2.class_a' : CLASS_B.has(String(prop)) ? 'r2.class_b' : undefined;
      return (...args: unknown[]) => {
        if (unit) usage.add({ stage, unit, detail: name });
        return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
}

/** Durable Object class of each namespace binding (from wrangler.toml). */
const CLASSES: Record<string, string> = { PROFILE: 'Profile', IDENTITY: 'IdentityIndex', LIVE_TAP: 'LiveTap' };

/** D1 and R2 bindings (from wrangler.toml). */
const D1_BINDINGS = new Set(['DB']);
const R2_BINDINGS = new Set(['ARCHIVE']);

/**
 * Bindings are recognised by name, not by shape: a service binding (ASSETS) answers every property
 * with an RPC stub, so it would look like anything. A binding added to wrangler.toml is metered
 * once it is named in one of these tables; until then it passes through uncounted.
 */
function wrap(name: string, value: unknown, stage: string): unknown {
  if (!value || typeof value !== 'object') return value;
  if (D1_BINDINGS.has(name)) return meterD1(value as D1Database, stage);
  if (name in QUEUE_NAMES) return meterQueue(value as Queue, QUEUE_NAMES[name], stage);
  if (name in CLASSES) return meterNamespace(value as DurableObjectNamespace, CLASSES[name], stage);
  if (R2_BINDINGS.has(name)) return meterR2(value as R2Bucket, name, stage);
  return value;
}

const cache = new WeakMap<object, Map<string, object>>();
const metered = new WeakSet<object>();

/**
 * The environment as seen by one stage: D1, queues, Durable Object namespaces and R2 buckets
 * count what they cost. Wrapped once at each entry point (fetch, queue, each Durable Object), so
 * the code behind it needs no counters of its own.
 */
export function meterEnv<E extends object>(env: E, stage: string): E {
  if (metered.has(env)) return env;
  let byStage = cache.get(env);
  if (!byStage) {
    byStage = new Map();
    cache.set(env, byStage);
  }
  const hit = byStage.get(stage);
  if (hit) return hit as E;
  const wrapped = new Map<PropertyKey, unknown>();
  const proxy = new Proxy(env, {
    get(target, prop) {
      if (typeof prop === 'symbol') return Reflect.get(target, prop);
      if (wrapped.has(prop)) return wrapped.get(prop);
      const value = wrap(prop, Reflect.get(target, prop), stage);
      wrapped.set(prop, value);
      return value;
    },
  });
  byStage.set(stage, proxy);
  metered.add(proxy);
  return proxy;
}
