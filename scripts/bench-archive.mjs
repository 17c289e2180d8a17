// Section `archive` of `npm run bench`: what the R2 archive costs per 1,000 events (R2 writes and
// bytes, from the manifest) and its effect on end-to-end throughput (Tracking API → profile →
// webhook delivered), as a ratio of the same load with ARCHIVE_ENABLED=true and =false, the two
// Tessera instances alternating within one run.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { runStandalone, startReceiver, waitUntil } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

const BATCHES = 20;
const USERS = 200;

/** One `/v1/batch` body of `size` track events over `USERS` users (profiles exist after the first batches). */
function body(size, seq) {
  const batch = Array.from({ length: size }, (_, i) => ({
    type: 'track',
    event: `Bench ${i % 5}`,
    userId: `arch-user-${(seq * size + i) % USERS}`,
    messageId: `bench-${seq}-${i}-${Math.random().toString(36).slice(2)}`,
    properties: { product_id: `sku-${i}`, price: 19.99, currency: 'EUR', position: i },
    context: { library: { name: 'tessera-bench', version: '1' } },
  }));
  return JSON.stringify({ batch });
}

async function withTessera(archive, fn) {
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-archive-'));
  const dev = await startDev({ persistTo, vars: { ARCHIVE_ENABLED: String(archive) } });
  try {
    const source = await ensureSource(dev.url, dev.adminToken, 'Archive bench');
    const admin = async (path, init = {}) => {
      const res = await fetch(`${dev.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json' },
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    return await fn({ url: dev.url, source, admin });
  } finally {
    await dev.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}

/** Sends `batches` batches at `concurrency`, returns end-to-end events/s (until all are delivered). */
async function endToEnd({ url, source, admin }, { batch, concurrency }) {
  const delivered = new Set();
  const receiver = await startReceiver((e) => e?.messageId?.startsWith('bench-') && delivered.add(e.messageId));
  try {
    await admin('/api/destinations', {
      method: 'POST',
      body: JSON.stringify({
        type: 'webhook',
        name: 'bench',
        sourceIds: [source.id],
        settings: { url: `${receiver.url}/hook` },
      }),
    });
    const auth = `Basic ${Buffer.from(`${source.writeKey}:`).toString('base64')}`;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < BATCHES) {
          const seq = next++;
          const payload = body(batch, seq);
          // As a Segment SDK does: a 5xx (the queue refused under load) is sent again.
          for (let attempt = 1; ; attempt++) {
            const res = await fetch(`${url}/v1/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: auth },
              body: payload,
            });
            if (res.status === 200) break;
            if (attempt >= 10) throw new Error(`batch ${seq}: ${res.status}`);
            await new Promise((r) => setTimeout(r, 200 * attempt));
          }
        }
      }),
    );
    const total = BATCHES * batch;
    if (!(await waitUntil(() => delivered.size >= total, 180_000)))
      throw new Error(`${delivered.size}/${total} delivered`);
    return total / ((performance.now() - started) / 1000);
  } finally {
    await receiver.stop();
  }
}

export async function benchArchive(ctx) {
  const { batch, rounds } = ctx.options;
  const concurrency = Math.min(ctx.options.concurrency, 4);
  const results = { on: [], off: [] };
  let cost;
  for (let r = 0; r < rounds; r++) {
    for (const archive of r % 2 ? [true, false] : [false, true]) {
      const figures = await withTessera(archive, async (t) => {
        const eps = await endToEnd(t, { batch, concurrency });
        if (!archive || cost) return { eps };
        const total = BATCHES * batch;
        let listed = [];
        await waitUntil(async () => {
          listed = (await t.admin(`/api/archive?sourceId=${t.source.id}&limit=1000`)).data;
          return listed.reduce((n, o) => n + o.rows, 0) >= total;
        }, 120_000);
        const rows = listed.reduce((n, o) => n + o.rows, 0);
        const bytes = listed.reduce((n, o) => n + o.bytes, 0);
        return { eps, cost: { events: rows, objects: listed.length, bytes } };
      });
      (archive ? results.on : results.off).push(figures.eps);
      cost ??= figures.cost;
      ctx.log(`  round ${r + 1} archive ${archive ? 'on ' : 'off'} ${Math.round(figures.eps)} events/s end to end`);
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = mean(results.on) / mean(results.off);
  const per1000 = cost && {
    r2Puts: (cost.objects / cost.events) * 1000,
    bytes: (cost.bytes / cost.events) * 1000,
  };
  if (per1000) {
    ctx.log(
      `  per 1,000 events: ${per1000.r2Puts.toFixed(2)} R2 PUTs (class A; no reads or lists on the write path), ` +
        `${Math.round(per1000.bytes).toLocaleString('en')} bytes in R2 (${cost.objects} files for ${cost.events} events)`,
    );
  }
  ctx.log(`  ratio          : ${ratio.toFixed(3)} (end-to-end events/s with the archive / without)`);
  return { onEventsPerSecond: mean(results.on), offEventsPerSecond: mean(results.off), ratio, per1000, cost };
}

runStandalone(
  import.meta.url,
  benchArchive,
  {
    rounds: { type: 'string', default: '1' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
  },
  (v) => ({ rounds: Number(v.rounds), batch: Number(v.batch), concurrency: Number(v.concurrency) }),
);
