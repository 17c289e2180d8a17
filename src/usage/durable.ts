import { meterEnv } from './bindings';
import { usage } from './counters';
import { emulatorOnly } from './emulator';
import { maybeFlush } from './flush';

type Cursor = SqlStorageCursor<Record<string, SqlStorageValue>>;

/**
 * SQLite storage that adds each query's rows read and written to the meter. A cursor's counters
 * are final once it is consumed, which the synchronous storage API does before the next
 * microtask; so cursors are harvested on one, and the isolate's counters flushed if due.
 */
function meterSql(sql: SqlStorage, cls: string, afterHarvest: () => void): SqlStorage {
  let pending: Cursor[] = [];
  const harvest = () => {
    const list = pending;
    pending = [];
    let read = 0;
    let written = 0;
    for (const c of list) {
      read += c.rowsRead;
      written += c.rowsWritten;
    }
    usage.add({ stage: cls, unit: 'do.rows_read', detail: cls }, read);
    usage.add({ stage: cls, unit: 'do.rows_written', detail: cls }, written);
    afterHarvest();
  };
  return new Proxy(sql, {
    get(target, prop) {
      if (prop === 'exec')
        return (query: string, ...bindings: unknown[]) => {
          const cursor = target.exec(query, ...bindings);
          if (emulatorOnly(query)) return cursor;
          if (!pending.length) queueMicrotask(harvest);
          pending.push(cursor as Cursor);
          return cursor;
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function bound<T extends object>(target: T, overrides: Record<PropertyKey, unknown>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (prop in overrides) return overrides[prop];
      const value = Reflect.get(t, prop);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}

/**
 * Meters the object's state in place (the base class accepts only the runtime's own state
 * object): its `storage` becomes one with metered SQLite, whose `setAlarm` counts the row
 * Cloudflare bills for it.
 */
function meterState(ctx: DurableObjectState, cls: string, env: { DB: D1Database }): DurableObjectState {
  const flush = () => maybeFlush(env, (p) => ctx.waitUntil(p));
  const storage = ctx.storage;
  const sql = meterSql(storage.sql, cls, flush);
  const meteredStorage = bound(storage, {
    sql,
    setAlarm: (at: number | Date, options?: DurableObjectSetAlarmOptions) => {
      usage.add({ stage: cls, unit: 'do.rows_written', detail: `${cls} alarm` });
      return storage.setAlarm(at, options);
    },
  });
  Object.defineProperty(ctx, 'storage', { value: meteredStorage, configurable: true });
  return ctx;
}

// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any[] (TS2545)
type DurableClass = new (...args: any[]) => { alarm?(...a: unknown[]): unknown };

/**
 * A Durable Object class whose storage, bindings and alarms are metered: exported from
 * `src/index.ts` in place of the class itself, so the object's own code stays as it is.
 * Requests to it are counted by the callers' metered stubs; alarms here.
 */
export function meteredDurableObject<C extends DurableClass>(Base: C, cls: string): C {
  const Metered = class extends Base {
    // biome-ignore lint/suspicious/noExplicitAny: see DurableClass
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      super(meterState(ctx, cls, env), meterEnv(env, cls));
    }
  };
  if (typeof Base.prototype.alarm === 'function') {
    Object.defineProperty(Metered.prototype, 'alarm', {
      configurable: true,
      writable: true,
      // Looked up at each call, not captured: a subclass or a later wrapper (tests) is honoured.
      value: function (this: InstanceType<C>, ...a: unknown[]) {
        usage.add({ stage: cls, unit: 'do.requests', detail: `${cls} alarm` });
        return Base.prototype.alarm?.apply(this, a);
      },
    });
  }
  Object.defineProperty(Metered, 'name', { value: cls });
  return Metered;
}
