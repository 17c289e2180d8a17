// Pipeline benchmark: events/s from the first `/v1/batch` to the last event at a webhook, for
// Tessera and for the floor Worker (bench/floor-worker.js: a queue, one SQLite Durable Object per
// user writing each event, then the webhook), on the same workload in one run: 100 new users,
// an identify and 5 tracks each, in batches of 100; then the same again for the now known users,
// `--rounds` times (3), floor and Tessera taking turns: one known round lasts under a second, so
// a single one mostly measures the machine's noise; the ratio is of the rounds' total events/s.
//
//   node scripts/bench-pipeline.mjs [--users 100] [--rounds 3] [--json]    (or: npm run bench -- --only pipeline)
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startBenchTessera, startWorker } from './bench.mjs';
import { createWebhook, runStandalone, startReceiver, waitUntil } from './bench-common.mjs';
import { ROOT } from './local.mjs';

const BATCH = 100;

/** identify + 5 tracks per user, user after user. */
export function workload(tag, users, round) {
  const events = [];
  for (let i = 0; i < users; i++) {
    const userId = `pipe-${tag}-${i}`;
    const id = () => `pl-${randomBytes(8).toString('hex')}`;
    events.push({
      type: 'identify',
      userId,
      anonymousId: `anon-${tag}-${i}`,
      messageId: id(),
      traits: { email: `${userId}@example.com`, plan: round % 2 ? 'pro' : 'free' },
    });
    for (let t = 0; t < 5; t++)
      events.push({ type: 'track', userId, event: 'Product Viewed', messageId: id(), properties: { sku: `s-${t}` } });
  }
  return events;
}

/** Sends the events in batches of 100 (two requests in flight) and waits for all at the receiver. */
export async function timeRun(target, events, arrivals) {
  const started = performance.now();
  let next = 0;
  const client = async () => {
    while (next < events.length) {
      const batch = events.slice(next, next + BATCH);
      next += BATCH;
      const res = await fetch(`${target.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body: JSON.stringify({ batch }),
      });
      if (res.status !== 200) throw new Error(`${target.name}: /v1/batch answered ${res.status}`);
    }
  };
  await Promise.all([client(), client()]);
  const ids = events.map((e) => e.messageId);
  const drained = await waitUntil(() => ids.every((id) => arrivals.has(id)), 300_000);
  const last = Math.max(...ids.filter((id) => arrivals.has(id)).map((id) => arrivals.get(id)));
  const seconds = (last - started) / 1000;
  return { events: events.length, drained, seconds, eventsPerSecond: events.length / seconds };
}

/** Section `pipeline`. */
export async function benchPipeline(ctx) {
  const users = ctx.options.users ?? 100;
  const arrivals = new Map();
  const receiver = await startReceiver((e, at) => {
    if (e?.messageId && !arrivals.has(e.messageId)) arrivals.set(e.messageId, at);
  });
  const floor = await startWorker(join(ROOT, 'bench', 'wrangler.floor.toml'), { WEBHOOK_URL: `${receiver.url}/hook` });
  let tessera;
  try {
    tessera = await startBenchTessera();
    await createWebhook(tessera, tessera.sourceId, receiver.url, 'Pipeline receiver');
    const targets = [
      { name: 'floor', url: floor.url, headers: {} },
      {
        name: 'tessera',
        url: tessera.url,
        headers: { authorization: `Basic ${Buffer.from(`${tessera.writeKey}:`).toString('base64')}` },
      },
    ];
    // Warm-up: each side's code paths once, on users outside the measured workload.
    for (const t of targets) await timeRun(t, workload(`warm-${t.name}`, 5, 0), arrivals);
    const tag = randomBytes(3).toString('hex');
    const rounds = ctx.options.rounds ?? 3;
    const out = {};
    const show = (t, label, r) =>
      ctx.log(
        `  ${t.name.padEnd(8)} ${label} ${r.events} events in ${r.seconds.toFixed(2)} s → ${r.eventsPerSecond.toFixed(0)} events/s` +
          (r.drained ? '' : '  (NOT all arrived)'),
      );
    // First new users (each identify creates the user)…
    for (const t of targets) {
      const newUsers = await timeRun(t, workload(`${t.name}-${tag}`, users, 0), arrivals);
      out[t.name] = { newUsers, knownRounds: [] };
      show(t, 'new users  ', newUsers);
    }
    // …then the same users known, round after round, the two taking turns.
    for (let round = 1; round <= rounds; round++)
      for (const t of targets) {
        const r = await timeRun(t, workload(`${t.name}-${tag}`, users, round), arrivals);
        out[t.name].knownRounds.push(r);
        show(t, `known #${round}   `, r);
      }
    for (const t of targets) {
      const all = out[t.name].knownRounds;
      const events = all.reduce((n, r) => n + r.events, 0);
      const seconds = all.reduce((n, r) => n + r.seconds, 0);
      out[t.name].knownUsers = {
        events,
        seconds,
        drained: all.every((r) => r.drained),
        eventsPerSecond: events / seconds,
      };
      show(t, 'known users', out[t.name].knownUsers);
    }
    const ratio = (k) => out.tessera[k].eventsPerSecond / out.floor[k].eventsPerSecond;
    out.ratio = { newUsers: ratio('newUsers'), knownUsers: ratio('knownUsers') };
    ctx.log(
      `  ratio Tessera / floor: new users ${out.ratio.newUsers.toFixed(2)}, known users ${out.ratio.knownUsers.toFixed(2)}`,
    );
    return out;
  } finally {
    await tessera?.stop();
    await floor.stop();
    await receiver.stop();
  }
}

runStandalone(
  import.meta.url,
  benchPipeline,
  { users: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } },
  (v) => ({ users: Number(v.users), rounds: Number(v.rounds) }),
);
