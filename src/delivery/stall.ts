/**
 * How long this isolate's thread could not run anything while the fresh lane sent a batch. A
 * timer set every `TICK_MS` fires late by however long the thread was busy with other work
 * (locally ingest, consumers and every object share one thread; in production the isolate's other
 * requests): every in-flight request of the batch was held up by that much at once, whatever the
 * vendor. The fresh lane judges a vendor and its deadline on time minus this stall, so a busy
 * thread is not taken for a slow destination (measured in the pipeline bench: six requests to a
 * healthy webhook answering together after 1.3 s while the ingest consumer ran, sending the
 * batch's other 94 events to the retry lane, two seconds later).
 */
const TICK_MS = 10;

/** Lateness of one tick below this is timer jitter, not a busy thread. */
const JITTER_MS = 5;

export interface StallMeter {
  /** Milliseconds the thread was held since `start`, at most `cap`, the tick now overdue included. */
  stalled(): number;
  stop(): void;
}

/** Starts measuring; `cap` bounds what is ever excused, so a batch's lane hold stays bounded. */
export function startStallMeter(now: () => number, cap: number): StallMeter {
  let total = 0;
  let due = now() + TICK_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = (at: number) => (at - due > JITTER_MS ? at - due : 0);
  const tick = () => {
    const at = now();
    total += late(at);
    due = at + TICK_MS;
    timer = setTimeout(tick, TICK_MS);
  };
  timer = setTimeout(tick, TICK_MS);
  return {
    // The overdue tick counts too: a request answered the moment the thread is free may run first.
    stalled: () => Math.min(cap, total + late(now())),
    stop: () => clearTimeout(timer),
  };
}
