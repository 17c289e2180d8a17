// Ingest under pipeline load (part of `npm run bench -- --only ingest`): `/v1/batch` latency while
// the pipeline (ingest consumer, identity, profiles, delivery to a webhook) is saturated in the
// same workerd. A backlog of new users' events is queued first; then two clients send 20-event
// batches with a 100 ms pause each for `--duration` seconds. Only requests answered while the
// backlog had not all reached the webhook count, so the figure is "while saturated".
//
//   node scripts/bench-ingest-load.mjs [--duration 10]   this phase alone, on its own `wrangler dev`
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createWebhook, pct, runStandalone, startReceiver } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

const BACKLOG_USERS = 500; // identify + 5 tracks each: 3,000 events
const BATCH = 20;

function backlog(tag) {
  const events = [];
  for (let i = 0; i < BACKLOG_USERS; i++) {
    const userId = `load-${tag}-${i}`;
    const id = () => `ld-${randomBytes(8).toString('hex')}`;
    events.push({
      type: 'identify',
      userId,
      anonymousId: `anon-${userId}`,
      messageId: id(),
      traits: { email: `${userId}@example.com` },
    });
    for (let t = 0; t < 5; t++)
      events.push({ type: 'track', userId, event: 'Seen', messageId: id(), properties: { t } });
  }
  return events;
}

/** Measures; `tessera` is a running bench Tessera (`startBenchTessera`). */
export async function ingestUnderLoad(ctx, tessera) {
  const arrivals = new Set();
  const receiver = await startReceiver((e) => e?.messageId && arrivals.add(e.messageId));
  try {
    const auth = {
      authorization: `Basic ${Buffer.from(`${tessera.writeKey}:`).toString('base64')}`,
      'content-type': 'application/json',
    };
    await createWebhook(tessera, tessera.sourceId, receiver.url, 'Load receiver');
    const post = async (batch) => {
      const t0 = performance.now();
      const res = await fetch(`${tessera.url}/v1/batch`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ batch }),
      });
      await res.text();
      return { ok: res.status === 200, ms: performance.now() - t0 };
    };
    const events = backlog(randomBytes(3).toString('hex'));
    for (let i = 0; i < events.length; i += 100) {
      const r = await post(events.slice(i, i + 100));
      if (!r.ok) throw new Error('backlog request refused');
    }
    const ids = events.map((e) => e.messageId);
    const busy = () => ids.some((id) => !arrivals.has(id));
    const latencies = [];
    let failed = 0;
    let seq = 0;
    const deadline = performance.now() + ctx.options.duration * 1000;
    const client = async () => {
      while (performance.now() < deadline && busy()) {
        const batch = Array.from({ length: BATCH }, (_, i) => ({
          type: 'track',
          userId: `load-probe-${(seq * BATCH + i) % 200}`,
          event: 'Probe',
          messageId: `probe-${seq}-${i}-${randomBytes(4).toString('hex')}`,
        }));
        seq++;
        const r = await post(batch);
        if (!r.ok) failed++;
        else if (busy()) latencies.push(r.ms);
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    await Promise.all([client(), client()]);
    const arrived = ids.filter((id) => arrivals.has(id)).length;
    const out = {
      requests: latencies.length,
      failed,
      p50Ms: pct(latencies, 0.5),
      p99Ms: pct(latencies, 0.99),
      maxMs: Math.max(0, ...latencies),
      backlogArrived: `${arrived}/${ids.length}`,
    };
    ctx.log(
      `  under pipeline load: ${out.requests} requests of ${BATCH} events while saturated: p50 ${out.p50Ms.toFixed(1)} ms  ` +
        `p99 ${out.p99Ms.toFixed(1)} ms  max ${out.maxMs.toFixed(0)} ms` +
        `${failed ? `  FAILED ${failed}` : ''} (backlog at the webhook by the end: ${out.backlogArrived})`,
    );
    return out;
  } finally {
    await receiver.stop();
  }
}

const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** The phase on its own: a fresh `wrangler dev` with one source, as `npm run bench` starts it. */
async function ingestLoadAlone(ctx) {
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-load-'));
  let dev;
  try {
    dev = await startDev({ persistTo });
    const source = await ensureSource(dev.url, dev.adminToken, 'Benchmark');
    ctx.log(`ingest under pipeline load (load average ${loadAverage()}):`);
    const tessera = { url: dev.url, adminToken: dev.adminToken, writeKey: source.writeKey, sourceId: source.id };
    const out = await ingestUnderLoad(ctx, tessera);
    ctx.log(`  load average after: ${loadAverage()}`);
    return out;
  } finally {
    await dev?.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}

runStandalone(import.meta.url, ingestLoadAlone, { duration: { type: 'string' } }, (v) => ({
  duration: Number(v.duration ?? 10),
}));
