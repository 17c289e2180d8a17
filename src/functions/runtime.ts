import { TICK } from './instrument';

/** Per-invocation budgets inside the sandbox (README, Functions: limits). */
export const LIMITS = {
  /** Loop iterations per invocation before it fails (a stand-in for CPU time that local workerd lacks). */
  steps: 5_000_000,
  /** Wall time per call to the sandbox (one invocation, or the events of one request), enforced inside it and by the host. */
  wallMs: 5_000,
  /** Bytes one invocation may request from buffer, typed-array, `Array(n)` and string-repeat calls. */
  allocBytes: 64 * 1024 * 1024,
  /** Console lines kept per invocation, and characters per line. */
  logLines: 100,
  logChars: 2_000,
  /** Requests a destination function may make per invocation (production: the loader's `subRequests`). */
  requests: 20,
  /** CPU ms per invocation passed to the loader; enforced by Cloudflare, ignored by local workerd. */
  cpuMs: 50,
} as const;

/**
 * The sandbox's own module, imported before the customer's code: Segment's globals (`Segment`,
 * the error classes), console capture, the step counter and allocation caps, and the entrypoint
 * the host calls over RPC. It runs in the function's isolate, never in Tessera's.
 */
export const RUNTIME_JS = String.raw`
import { WorkerEntrypoint } from 'cloudflare:workers';

const L = ${JSON.stringify(LIMITS)};
let state = null;
function budgetError(what) { const e = new Error(what); e.name = 'LimitExceeded'; return e; }

export function ${TICK}() {
  if (state && ++state.steps > L.steps) throw budgetError('The function ran more than ' + L.steps + ' loop iterations in one invocation (an endless loop?)');
}
function charge(bytes) {
  if (!state) return;
  state.alloc += bytes;
  if (!(state.alloc <= L.allocBytes)) throw budgetError('The function asked for more than ' + (L.allocBytes >> 20) + ' MB of memory in one invocation');
}

// Segment's error classes, by name: the host reads error.name to decide retry or record.
class RetryError extends Error { constructor(m) { super(m); this.name = 'RetryError'; } }
class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError'; } }
class EventNotSupported extends Error { constructor(m) { super(m); this.name = 'EventNotSupported'; } }
class InvalidEventPayload extends Error { constructor(m) { super(m); this.name = 'InvalidEventPayload'; } }
class DropEvent extends Error { constructor(m) { super(m); this.name = 'DropEvent'; } }

const emit = (type) => (event) => {
  if (!state) throw new Error('Segment.' + type + ' called outside an invocation');
  if (state.emitted.length >= 1000) throw budgetError('At most 1000 events per source function invocation');
  state.emitted.push({ ...structuredClone(event ?? {}), type });
};
const Segment = Object.freeze({
  track: emit('track'), identify: emit('identify'), page: emit('page'),
  screen: emit('screen'), group: emit('group'), alias: emit('alias'),
  set() { throw new Error('Segment.set (object API) is not supported; use Segment.track/identify/...'); },
});

const line = (level) => (...args) => {
  if (!state || state.logs.length >= L.logLines) return;
  const text = args.map((a) => { try { return typeof a === 'string' ? a : JSON.stringify(a); } catch { return String(a); } }).join(' ');
  state.logs.push({ level, message: text.slice(0, L.logChars) });
};
const captured = { log: line('log'), info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug') };

// Allocation caps: local workerd has no per-isolate memory limit (Cloudflare: 128 MB).
const wrap = (C, size) => new Proxy(C, {
  construct(t, args, nt) { charge(size(args)); return Reflect.construct(t, args, nt); },
  apply(t, self, args) { charge(size(args)); return Reflect.apply(t, self, args); },
});
const num = (v) => (typeof v === 'number' ? v : 0);
globalThis.ArrayBuffer = wrap(ArrayBuffer, (a) => num(a[0]));
for (const name of ['Int8Array','Uint8Array','Uint8ClampedArray','Int16Array','Uint16Array','Int32Array','Uint32Array','Float32Array','Float64Array','BigInt64Array','BigUint64Array']) {
  const C = globalThis[name];
  globalThis[name] = wrap(C, (a) => num(a[0]) * C.BYTES_PER_ELEMENT);
}
globalThis.Array = wrap(Array, (a) => (a.length === 1 ? num(a[0]) * 8 : a.length * 8));
for (const m of ['repeat', 'padStart', 'padEnd']) {
  const orig = String.prototype[m];
  String.prototype[m] = function (n, ...rest) { charge((m === 'repeat' ? num(n) * this.length : num(n)) * 2); return orig.call(this, n, ...rest); };
}

const realFetch = globalThis.fetch;
async function recordedFetch(input, init) {
  const req = new Request(input, init);
  if (!state) throw new Error('fetch called outside an invocation');
  if (state.requests.length >= L.requests) throw budgetError('At most ' + L.requests + ' requests per invocation');
  const entry = { method: req.method, url: req.url };
  state.requests.push(entry);
  try {
    const res = await realFetch(req);
    entry.status = res.status;
    return res;
  } catch (err) { entry.error = String(err && err.message || err); throw err; }
}

Object.assign(globalThis, { Segment, RetryError, ValidationError, EventNotSupported, InvalidEventPayload, DropEvent, fetch: recordedFetch });
globalThis.console = captured;

let chain = Promise.resolve();
export function entrypoint(handlers) {
  return class extends WorkerEntrypoint {
    // One invocation at a time per isolate: logs, emitted events and budgets are per invocation.
    // A list of calls (one per event of a request or batch) shares one RPC and one wall-time limit.
    runAll(calls) {
      const next = chain.then(async () => {
        let timer;
        const wall = new Promise((_, reject) => {
          timer = setTimeout(() => reject(budgetError('The function did not finish within ' + L.wallMs + ' ms')), L.wallMs);
        });
        wall.catch(() => {});
        const out = [];
        try {
          for (const call of calls) out.push(await invoke(handlers, call, wall));
        } finally { clearTimeout(timer); }
        return out;
      });
      chain = next.catch(() => {});
      return next;
    }
  };
}

async function invoke(handlers, call, wall) {
  state = { steps: 0, alloc: 0, emitted: [], logs: [], requests: [] };
  const mine = state;
  let result, error;
  try {
    const fn = handlers[call.handler];
    if (typeof fn !== 'function') throw new EventNotSupported(call.handler + ' is not defined');
    const arg = call.request ? new Request(call.request.url, call.request) : call.arg;
    result = await Promise.race([fn(arg, call.settings ?? {}), wall]);
    if (result !== undefined) result = structuredClone(result);
  } catch (err) {
    error = { name: String(err && err.name || 'Error'), message: String(err && err.message || err) };
  }
  state = null;
  return { result, error, emitted: mine.emitted, logs: mine.logs, requests: mine.requests };
}
`;
