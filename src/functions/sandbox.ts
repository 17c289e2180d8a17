import { exports } from 'cloudflare:workers';
import { type FunctionKind, HANDLERS, instrument, TICK } from './instrument';
import { LIMITS, RUNTIME_JS } from './runtime';

/** The code of one function version, as the sandbox loads it. */
export interface LoadableFunction {
  id: string;
  version: number;
  kind: FunctionKind;
  code: string;
}

/** A request given to a source function (its body as text; headers as pairs). */
export interface SourceRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: string;
}

export interface LogLine {
  level: string;
  message: string;
}
export interface MadeRequest {
  method: string;
  url: string;
  status?: number;
  error?: string;
}

/** What one invocation did: the handler's result, events it emitted, its console, its requests. */
export interface Invocation {
  result?: unknown;
  error?: { name: string; message: string };
  emitted: Record<string, unknown>[];
  logs: LogLine[];
  requests: MadeRequest[];
  durationMs: number;
}

export interface RunCall {
  handler: string;
  arg?: unknown;
  request?: SourceRequest;
  settings: Record<string, unknown>;
}
interface Runner {
  runAll(calls: RunCall[]): Promise<Omit<Invocation, 'durationMs'>[]>;
}

/** The sandbox's main module: the customer's code, instrumented, with its handlers exported. */
export function mainModule(fn: LoadableFunction): string {
  const names = HANDLERS[fn.kind];
  const table = names.map((n) => `${n}: typeof ${n} === 'function' ? ${n} : undefined`).join(', ');
  return `import { ${TICK}, entrypoint } from './tessera-runtime.js';\n${instrument(fn.code)}\n;export default entrypoint({ ${table} });\n`;
}

/**
 * Loads a function version in its own isolate (cached by the loader under id and version; a
 * version never changes) and returns its entrypoint. The isolate gets no bindings: `env` is empty.
 * Source and insert functions have no network at all; destination functions go out only through
 * `FunctionOutbound`, the SSRF guard.
 */
function load(env: Cloudflare.Env, fn: LoadableFunction, dryRun: boolean): Runner {
  const network = fn.kind === 'destination';
  const id = `${fn.id}@${fn.version}${network ? (dryRun ? ':dry' : ':net') : ''}`;
  const worker = env.LOADER.get(id, () => ({
    compatibilityDate: '2026-11-01',
    mainModule: 'main.js',
    modules: { 'main.js': mainModule(fn), 'tessera-runtime.js': RUNTIME_JS },
    env: {},
    globalOutbound: network ? exports.FunctionOutbound({ props: { dryRun } }) : null,
    limits: { cpuMs: LIMITS.cpuMs, subRequests: LIMITS.requests },
  }));
  return worker.getEntrypoint() as unknown as Runner;
}

/**
 * Runs handlers of a function version, one call per event, in one round trip to its isolate.
 * Never throws: a failure of the customer's code, a budget it exceeded or a sandbox that could
 * not load is reported in each invocation's `error`. `durationMs` is the call's share of the trip.
 */
export async function invokeAll(
  env: Cloudflare.Env,
  fn: LoadableFunction,
  calls: RunCall[],
  opts: { dryRun?: boolean } = {},
): Promise<Invocation[]> {
  if (!calls.length) return [];
  const started = Date.now();
  const share = () => (Date.now() - started) / calls.length;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const runner = load(env, fn, opts.dryRun ?? false);
    // The runtime enforces the wall time itself; this backstop covers a sandbox that never answers
    // (generous: a call may wait in the isolate behind another request's call).
    const backstopMs = 2 * LIMITS.wallMs + 1000;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`No answer from the sandbox within ${backstopMs} ms`)), backstopMs);
    });
    const out = await Promise.race([runner.runAll(calls), backstop]);
    const durationMs = share();
    return out.map((o) => ({ ...o, durationMs }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const durationMs = share();
    return calls.map(() => ({
      error: { name: 'SandboxError', message: `The function could not run: ${message}` },
      emitted: [],
      logs: [],
      requests: [],
      durationMs,
    }));
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one handler of a function version (see `invokeAll`). */
export async function invoke(
  env: Cloudflare.Env,
  fn: LoadableFunction,
  call: RunCall,
  opts: { dryRun?: boolean } = {},
): Promise<Invocation> {
  const [inv] = await invokeAll(env, fn, [call], opts);
  return inv;
}

/** The handler Segment calls for an event type (`track` → `onTrack`). */
export function handlerFor(type: string): string {
  return `on${type.charAt(0).toUpperCase()}${type.slice(1)}`;
}
