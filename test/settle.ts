import { afterAll } from 'vitest';
import main from '../src/index';
import { Profile } from '../src/profiles/profile-do';

/**
 * Test files hand events to the real queues, and the consumers (and Profile alarms) keep working
 * after the last assertion. If vitest tears the file down while that work still runs, it fails the
 * whole run with "Closing rpc while … was pending" even though every test passed. So: load the
 * whole module graph up front (no module resolution in background work), count the queue and
 * alarm invocations in flight, and let each file end only once the pipeline has been quiet.
 */
const QUIET_MS = 300;
const MAX_WAIT_MS = 30_000;

let inFlight = 0;
let lastActivity = Date.now();

function tracked<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if ((fn as { tracked?: boolean }).tracked) return fn;
  const wrapped = async function (this: unknown, ...args: A): Promise<R> {
    inFlight++;
    lastActivity = Date.now();
    try {
      return await fn.apply(this, args);
    } finally {
      inFlight--;
      lastActivity = Date.now();
    }
  };
  return Object.assign(wrapped, { tracked: true });
}

main.queue = tracked(main.queue);
// The class itself, not the metered export: every profile class in tests (TestProfile) inherits it.
Profile.prototype.alarm = tracked(Profile.prototype.alarm);

afterAll(async () => {
  const deadline = Date.now() + MAX_WAIT_MS;
  while (Date.now() < deadline) {
    if (inFlight === 0 && Date.now() - lastActivity >= QUIET_MS) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Say so plainly here rather than let vitest report a teardown error with no cause.
  throw new Error(`pipeline still busy after ${MAX_WAIT_MS} ms (${inFlight} queue/alarm calls in flight)`);
}, MAX_WAIT_MS + 5_000);
