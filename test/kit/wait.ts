// Shared by both sides of the kit: imports nothing, so workerd (workers tests) and Node (e2e) load it.

export interface WaitOptions {
  /** Give up after this many milliseconds (default 20 s: the pipeline is queues and alarms under load). */
  timeout?: number;
  /** Poll every this many milliseconds (default 100). */
  interval?: number;
  /** Said in the timeout error, e.g. "5 events in the debugger"; a function is called only then. */
  message?: string | (() => string);
}

/**
 * Polls `check` until it returns something other than `undefined`, `null` or `false`, and returns
 * that. An error thrown by `check` counts as "not yet" (a route may 404 until the pipeline has
 * written); on timeout the last one is reported, so a check that can never pass still fails.
 * A number is taken as `{ timeout }`.
 */
export async function eventually<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions | number = {},
): Promise<T> {
  const {
    timeout = 20_000,
    interval = 100,
    message = 'condition',
  } = typeof options === 'number' ? { timeout: options } : options;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = typeof message === 'function' ? message() : message;
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`eventually: ${what} not met within ${timeout} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
