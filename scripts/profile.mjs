// CPU profile of the ingest → profile pipeline: starts `wrangler dev` with the inspector on, sends
// the identity workload (anonymous visits, server-side calls, an identify that merges, purchases),
// samples the Worker's isolate (Worker, Durable Objects and consumers share it locally) until the
// last profile has its events, then prints self and inclusive time per function.
//
//   node scripts/profile.mjs [--users 200] [--out /tmp/tessera.cpuprofile]
//   node scripts/profile.mjs --workload load [--duration 10]   the ingest bench's backlog phase
//     (scripts/bench-ingest-load.mjs) instead; either way it also lists the longest stretches the
//     thread ran without going idle, which are what a request arriving meanwhile waits behind.
//   node scripts/profile.mjs --workload known [--users 100]   the pipeline bench's known rounds
//     (scripts/bench-pipeline.mjs) to a webhook destination, profiled after the users are created.
// Open the .cpuprofile in Chrome DevTools (Performance) for the flame chart. Synchronous SQLite
// calls of Durable Objects show as self time of the JS function that called `sql.exec`.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createWebhook, startReceiver, waitUntil } from './bench-common.mjs';
import { ingestUnderLoad } from './bench-ingest-load.mjs';
import { workload as pipelineWorkload, timeRun } from './bench-pipeline.mjs';
import { ensureSource, freePort, startDev } from './local.mjs';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200' },
    out: { type: 'string', default: '/tmp/tessera.cpuprofile' },
    workload: { type: 'string', default: 'identity' },
    duration: { type: 'string', default: '10' },
  },
});
if (!['identity', 'load', 'known'].includes(values.workload)) throw new Error('--workload is identity, load or known');
const USERS = Number(values.users);

/** Four events per user, as in the identity benchmark (two profiles, then a merge). */
function workload() {
  const id = () => `pf-${randomBytes(8).toString('hex')}`;
  const events = [];
  for (let i = 0; i < USERS; i++) {
    events.push(
      { type: 'page', name: 'Home', anonymousId: `anon-${i}`, messageId: id() },
      { type: 'track', event: 'Trial Started', userId: `user-${i}`, messageId: id() },
    );
  }
  for (let i = 0; i < USERS; i++) {
    events.push({ type: 'identify', userId: `user-${i}`, anonymousId: `anon-${i}`, messageId: id() });
  }
  for (let i = 0; i < USERS; i++) {
    events.push({ type: 'track', event: 'Order Completed', userId: `user-${i}`, messageId: id() });
  }
  return events;
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspector(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  // wrangler's inspector proxy refuses WebSocket upgrades without a local Origin.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { origin: `http://127.0.0.1:${port}` });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let next = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg);
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}

/** Self and inclusive milliseconds per function (name, file, line) of a V8 CPU profile. */
export function summarize(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  profile.samples.forEach((sample, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    const l = label(byId.get(sample));
    self.set(l, (self.get(l) ?? 0) + us);
    const seen = new Set();
    for (let cur = sample; cur !== undefined; cur = parent.get(cur)) {
      const name = label(byId.get(cur));
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  });
  const rows = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([l, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${l}`,
      );
  return [`sampled ${(total / 1000).toFixed(0)} ms`, '-- self', ...rows(self), '-- inclusive', ...rows(inclusive)].join(
    '\n',
  );
}

/**
 * The longest runs of consecutive non-idle samples: how long the thread went without serving
 * anything else, each with the functions that took most of it (self time) and the outermost
 * named frames it ran under (the task's entry).
 */
export function longestStretches(profile, top = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
  const entryOf = (id) => {
    // The outermost frame with a name and a file: what the event loop called.
    let out;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n.callFrame.url && n.callFrame.functionName) out = label(n);
    }
    return out ?? label(byId.get(id));
  };
  const stretches = [];
  let cur;
  profile.samples.forEach((sample, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next one
    const idle = byId.get(sample).callFrame.functionName === '(idle)';
    if (idle) {
      if (cur) stretches.push(cur);
      cur = undefined;
      return;
    }
    cur ??= { us: 0, self: new Map(), entries: new Map() };
    cur.us += us;
    const l = label(byId.get(sample));
    cur.self.set(l, (cur.self.get(l) ?? 0) + us);
    const e = entryOf(sample);
    cur.entries.set(e, (cur.entries.get(e) ?? 0) + us);
  });
  if (cur) stretches.push(cur);
  const heaviest = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([l, us]) => `${(us / 1000).toFixed(0)} ms ${l}`)
      .join('; ');
  const busy = stretches.reduce((n, s) => n + s.us, 0);
  const long = stretches.filter((s) => s.us >= 50_000);
  return [
    `-- longest stretches without going idle (${stretches.length} stretches, ${(busy / 1000).toFixed(0)} ms busy; ` +
      `${long.length} of 50 ms or more, ${(long.reduce((n, s) => n + s.us, 0) / 1000).toFixed(0)} ms)`,
    ...[...stretches]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(
        (s) =>
          `${(s.us / 1000).toFixed(0).padStart(7)} ms  self: ${heaviest(s.self, 3)}\n            under: ${heaviest(s.entries, 3)}`,
      ),
  ].join('\n');
}

const dir = await mkdtemp(join(os.tmpdir(), 'tessera-profile-'));
const inspectorPort = await freePort();
const dev = await startDev({ persistTo: dir, extraArgs: ['--inspector-port', String(inspectorPort)] });
try {
  const source = await ensureSource(dev.url, dev.adminToken);
  const known = values.workload === 'known' ? await knownUsers(dev, source) : undefined;
  const cdp = await inspector(inspectorPort);
  await cdp.call('Profiler.enable');
  await cdp.call('Profiler.setSamplingInterval', { interval: 500 });
  await cdp.call('Profiler.start');

  if (values.workload === 'load') {
    const ctx = { options: { duration: Number(values.duration) }, log: (l) => console.log(l) };
    await ingestUnderLoad(ctx, {
      url: dev.url,
      adminToken: dev.adminToken,
      writeKey: source.writeKey,
      sourceId: source.id,
    });
  } else if (known) await known.run();
  else await identityWorkload(dev, source);

  const { result } = await cdp.call('Profiler.stop');
  cdp.close();
  writeFileSync(values.out, JSON.stringify(result.profile));
  console.log(summarize(result.profile));
  console.log(longestStretches(result.profile));
  console.log(`profile written to ${values.out}`);
} finally {
  await dev.stop();
  await rm(dir, { recursive: true, force: true });
}

/**
 * The pipeline bench's users, created (not profiled) with a webhook destination to a local
 * receiver; `run` sends them known, three rounds, each waited for at the receiver.
 */
async function knownUsers(dev, source) {
  const arrivals = new Map();
  const receiver = await startReceiver((e, at) => {
    if (e?.messageId && !arrivals.has(e.messageId)) arrivals.set(e.messageId, at);
  });
  await createWebhook(dev, source.id, receiver.url, 'Profile receiver');
  const target = {
    name: 'tessera',
    url: dev.url,
    headers: { authorization: `Basic ${Buffer.from(`${source.writeKey}:`).toString('base64')}` },
  };
  const tag = randomBytes(3).toString('hex');
  await timeRun(target, pipelineWorkload(tag, USERS, 0), arrivals);
  return {
    async run() {
      try {
        for (let round = 1; round <= 3; round++) {
          const r = await timeRun(target, pipelineWorkload(tag, USERS, round), arrivals);
          console.log(
            `known #${round}: ${r.events} events in ${r.seconds.toFixed(2)} s${r.drained ? '' : ' (NOT all arrived)'}`,
          );
        }
      } finally {
        await receiver.stop();
      }
    },
  };
}

/** Sends the identity workload and waits until the last profile has its events. */
async function identityWorkload(dev, source) {
  const events = workload();
  const started = Date.now();
  const auth = `Basic ${Buffer.from(`${source.writeKey}:`).toString('base64')}`;
  for (let i = 0; i < events.length; i += 100) {
    const res = await fetch(`${dev.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ batch: events.slice(i, i + 100) }),
    });
    if (res.status !== 200) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
  }
  const last = `/v1/spaces/default/collections/users/profiles/user_id:user-${USERS - 1}/events`;
  const done = await waitUntil(async () => {
    const res = await fetch(`${dev.url}${last}`, { headers: { authorization: `Bearer ${dev.adminToken}` } });
    return res.status === 200 && ((await res.json()).data ?? []).length >= 4;
  }, 600_000);
  if (!done) throw new Error('the last profile did not get its events within 10 minutes');
  const seconds = (Date.now() - started) / 1000;

  console.log(
    `${events.length} events, ${USERS} merges: ${seconds.toFixed(1)} s, ${(events.length / seconds).toFixed(1)} events/s`,
  );
}
