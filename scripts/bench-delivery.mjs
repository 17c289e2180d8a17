// Delivery benchmark: event → destination latency (p50/p95) and delivered events/s, end to end
// through `wrangler dev` (Tracking API → ingest → identity/profile → outbox → delivery) to a webhook
// destination on a local HTTP receiver that answers 200 at once.
//
//   node scripts/bench-delivery.mjs [--duration 10] [--json]    (or: npm run bench -- --only delivery)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createWebhook, pct, runStandalone, startReceiver, waitUntil } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

/** A receiver that notes when each messageId first arrived. */
async function startDeliveryReceiver() {
  const arrivals = new Map();
  const receiver = await startReceiver((e, at) => {
    if (!arrivals.has(e.messageId)) arrivals.set(e.messageId, at);
  });
  return { ...receiver, arrivals };
}

/**
 * POSTs one `/v1/batch` of `size` track events spread over `users` users; returns their messageIds
 * and the send instant.
 */
async function sendBatch(url, writeKey, size, tag, users = 500) {
  const ids = [];
  const batch = Array.from({ length: size }, (_, i) => {
    const messageId = `bd-${tag}-${i}-${randomBytes(6).toString('hex')}`;
    ids.push(messageId);
    return {
      type: 'track',
      event: 'Bench Event',
      userId: `bench-${(tag * size + i) % users}`,
      messageId,
      properties: { i },
    };
  });
  const sentAt = performance.now();
  const res = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ batch }),
  });
  if (res.status !== 200) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`);
  return { ids, sentAt };
}

/** Users of the latency phase, all known (profiled) before it starts. */
const LATENCY_USERS = 50;

const waitForArrivals = (receiver, ids, timeoutMs) =>
  waitUntil(() => ids.every((id) => receiver.arrivals.has(id)), timeoutMs);

/**
 * Section `delivery`. Latency: light, steady traffic of known users (10-event batches every 250 ms), measured
 * from the client's send to the receiver. Throughput: 100-event batches as fast as the Tracking
 * API takes them for `duration` seconds, then delivered events over the time until the last one
 * reached the receiver.
 */
export async function benchDelivery(ctx) {
  const duration = ctx.options.duration ?? 10;
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-delivery-'));
  const receiver = await startDeliveryReceiver();
  let dev;
  try {
    dev = await startDev({ persistTo, log: process.env.BENCH_LOG === '1' });
    const source = await ensureSource(dev.url, dev.adminToken, 'Delivery benchmark');
    await createWebhook(dev, source.id, receiver.url, 'Bench receiver');

    // Warm-up: 50 users get their profile. Then latency under light load, for those known users
    // (most traffic): events of new users cost a new Profile object each, and 40 of them a second
    // is close to what one local workerd thread resolves, so their latency measures the backlog.
    const warm = await sendBatch(dev.url, source.writeKey, LATENCY_USERS, 0, LATENCY_USERS);
    await waitForArrivals(receiver, warm.ids, 60_000);
    const sent = [];
    for (let b = 1; b <= Math.max(8, duration * 2); b++) {
      sent.push(await sendBatch(dev.url, source.writeKey, 10, b, LATENCY_USERS));
      await new Promise((r) => setTimeout(r, 250));
    }
    const allIds = sent.flatMap((s) => s.ids);
    if (!(await waitForArrivals(receiver, allIds, 60_000)))
      ctx.log('  WARNING: some latency-phase events never arrived');
    const latencies = sent.flatMap((s) =>
      s.ids.filter((id) => receiver.arrivals.has(id)).map((id) => receiver.arrivals.get(id) - s.sentAt),
    );
    const latency = { events: latencies.length, p50Ms: pct(latencies, 0.5), p95Ms: pct(latencies, 0.95) };
    ctx.log(
      `  event → destination latency: p50 ${latency.p50Ms.toFixed(0)} ms, p95 ${latency.p95Ms.toFixed(0)} ms (${latency.events} events of ${LATENCY_USERS} known users)`,
    );

    // Throughput: 2 clients sending 100-event batches for `duration` seconds.
    const tputIds = [];
    const started = performance.now();
    const stopAt = started + duration * 1000;
    let tag = 10_000;
    const client = async () => {
      while (performance.now() < stopAt) tputIds.push(...(await sendBatch(dev.url, source.writeKey, 100, tag++)).ids);
    };
    await Promise.all([client(), client()]);
    const accepted = tputIds.length;
    const drained = await waitForArrivals(receiver, tputIds, 180_000);
    const delivered = tputIds.filter((id) => receiver.arrivals.has(id));
    const last = Math.max(...delivered.map((id) => receiver.arrivals.get(id)));
    const seconds = (last - started) / 1000;
    // Peak: the best one-second window of arrivals, i.e. what the delivery lane sustains once
    // events are waiting for it (the end-to-end figure is bounded by ingest and identity too).
    const times = delivered.map((id) => receiver.arrivals.get(id)).sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] > 1000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    const throughput = {
      peakDeliveredEventsPerSecond: peak,
      accepted,
      delivered: delivered.length,
      drained,
      seconds,
      deliveredEventsPerSecond: delivered.length / seconds,
      acceptedEventsPerSecond: accepted / duration,
      receiverRequests: receiver.requests(),
    };
    ctx.log(
      `  delivered: ${delivered.length}/${accepted} events in ${seconds.toFixed(1)} s → ` +
        `${Math.round(throughput.deliveredEventsPerSecond)} delivered events/s end to end ` +
        `(accepted ${Math.round(throughput.acceptedEventsPerSecond)}/s; webhook, one request per event)`,
    );
    ctx.log(`  peak delivery rate: ${peak} events in the best 1 s window`);
    return { latency, throughput };
  } finally {
    await dev?.stop();
    await receiver.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}

runStandalone(import.meta.url, benchDelivery, { duration: { type: 'string' } }, (v) => ({
  duration: Number(v.duration ?? 10),
}));
