// The e2e side of the kit (Node): one real `wrangler dev` per test file, with its own temporary
// state folder and a fresh source, so files never see each other's data. Used by test/e2e/.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevServer, ensureSource, startDev } from '../../scripts/local.mjs';
import { type JsonAnswer, type JsonInit, jsonApi } from './http';

/** One entry of the source debugger (`GET /api/sources/:id/events`), newest first. */
export interface DebugEntry<E = Record<string, unknown>> {
  receivedAt: string;
  status: 'accepted' | 'rejected';
  error?: { code: string; message: string };
  event: E;
  /** Set when the event came with a rotated write key still in its grace period. */
  writeKey?: 'previous';
}

/** What `admin()` accepts: like `fetch`'s init, but `body` is any JSON value. */
export type AdminInit = JsonInit;
export { AdminError } from './http';

/** A running Tessera with one source, as a test sees it. */
export interface Tessera {
  /** Base URL of `wrangler dev`, e.g. `http://127.0.0.1:8787` (no trailing slash). */
  url: string;
  adminToken: string;
  writeKey: string;
  sourceId: string;
  /** JSON call to the admin API with the admin token; throws `AdminError` on a non-2xx answer. */
  admin<T = unknown>(path: string, init?: AdminInit): Promise<T>;
  /** The same request as `admin()`, returning the raw `Response` (for status/headers checks). */
  adminFetch(path: string, init?: AdminInit): Promise<Response>;
  /** GET with the admin token, or exactly `headers` when given: status, JSON body, headers. */
  getJson<T = Record<string, unknown>>(path: string, headers?: HeadersInit): Promise<JsonAnswer<T>>;
  /** POST of a JSON body, with the admin token or exactly `headers`: status, JSON body, headers. */
  postJson<T = Record<string, unknown>>(path: string, body: unknown, headers?: HeadersInit): Promise<JsonAnswer<T>>;
  /** The debugger of a source (default: the harness's source), newest first. */
  debuggerEvents<E = Record<string, unknown>>(sourceId?: string): Promise<DebugEntry<E>[]>;
  /** What wrangler printed (the last ~100 KB), for failure messages. */
  output(): string;
  /** Stops wrangler dev and deletes the temporary state folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Name of the source to create. */
  sourceName?: string;
  /** Extra `--var NAME:value` pairs for the Worker. */
  vars?: Record<string, string>;
  /** Echo wrangler's output (or set TESSERA_E2E_LOG=1). */
  log?: boolean;
  /**
   * Keep the state folder in memory (/dev/shm) where there is one. Locally one workerd thread runs
   * the Worker and every Durable Object, and each object's SQLite commit syncs to disk inside that
   * thread; tests that measure the Worker's responsiveness, not the disk, use this.
   */
  inMemory?: boolean;
}

/** Starts `wrangler dev` on a free port with a fresh `--persist-to` folder and creates a source. */
export async function startTessera(options: StartOptions = {}): Promise<Tessera> {
  const base = options.inMemory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const persistTo = await mkdtemp(join(base, 'tessera-e2e-'));
  let dev: DevServer | undefined;
  const cleanup = async () => {
    await dev?.stop();
    await rm(persistTo, { recursive: true, force: true });
  };
  try {
    dev = await startDev({
      persistTo,
      vars: options.vars,
      log: options.log ?? process.env.TESSERA_E2E_LOG === '1',
    });
    const { url, adminToken } = dev;
    const source = await ensureSource(url, adminToken, options.sourceName ?? 'E2E source');

    const { admin, request: adminFetch, getJson, postJson } = jsonApi(url, (req) => fetch(req), adminToken);
    let stopped: Promise<void> | undefined;
    const server = dev;
    return {
      url,
      adminToken,
      writeKey: source.writeKey,
      sourceId: source.id,
      admin,
      adminFetch,
      getJson,
      postJson,
      debuggerEvents: async <E>(sourceId = source.id) =>
        (await admin<{ data: DebugEntry<E>[] }>(`/api/sources/${sourceId}/events?limit=100`)).data,
      output: () => server.output(),
      stop: () => {
        stopped ??= cleanup();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
