// End-to-end harness: one real `wrangler dev` per test file, with its own temporary state folder
// and a fresh source, so files never see each other's data. Used by every test in test/e2e/.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DevServer, ensureSource, startDev } from '../../scripts/local.mjs';

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
export interface AdminInit extends Omit<RequestInit, 'body'> {
  body?: unknown;
}

/** A non-2xx answer from the admin API, with the parsed error body. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    path: string,
  ) {
    super(`admin ${path} answered ${status}: ${JSON.stringify(body)}`);
  }
}

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

    const adminFetch = (path: string, init: AdminInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${adminToken}`);
      if (init.body !== undefined) headers.set('content-type', 'application/json');
      return fetch(new URL(path, url), {
        ...init,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    };
    const admin = async <T>(path: string, init?: AdminInit): Promise<T> => {
      const res = await adminFetch(path, init);
      const text = await res.text();
      const body: unknown = text ? JSON.parse(text) : undefined;
      if (!res.ok) throw new AdminError(res.status, body, path);
      return body as T;
    };
    let stopped: Promise<void> | undefined;
    const server = dev;
    return {
      url,
      adminToken,
      writeKey: source.writeKey,
      sourceId: source.id,
      admin,
      adminFetch,
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

export interface WaitOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeout?: number;
  /** Poll every this many milliseconds (default 100). */
  interval?: number;
  /** Said in the timeout error, e.g. "5 events in the debugger". */
  message?: string;
}

/**
 * Polls `fn` until it returns something other than `undefined`, `null` or `false`, and returns
 * that. Errors thrown by `fn` count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeout = 10_000, interval = 100, message = 'condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: ${message} not met within ${timeout} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
