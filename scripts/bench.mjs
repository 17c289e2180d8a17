// `npm run bench`: performance figures for Tessera under `wrangler dev` (loopback only).
//
//   npm run bench                          every section
//   npm run bench -- --only ingest         one section (comma-separate several)
//   npm run bench -- --duration 5 --concurrency 8 --rounds 2 --json
//
// A section is an entry of `SECTIONS`: `{ name, title, run(ctx) }`. `run` starts what it needs,
// prints its own lines with `ctx.log` and returns plain figures (printed as JSON with --json).
// Add identity-resolution or delivery-latency sections by appending to `SECTIONS`, reusing
// `loadTest`, `startBenchTessera` and `startWorker` below.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchArchive } from './bench-archive.mjs';
import { benchAudiences } from './bench-audiences.mjs';
import { benchCost } from './bench-cost.mjs';
import { benchDelivery } from './bench-delivery.mjs';
import { benchFunctions } from './bench-functions.mjs';
import { benchGovernance } from './bench-governance.mjs';
import { benchIdentity } from './bench-identity.mjs';
import { ingestUnderLoad } from './bench-ingest-load.mjs';
import { benchInsights } from './bench-insights.mjs';
import { benchPipeline } from './bench-pipeline.mjs';
import { ensureSource, freePort, ROOT, startDev, toolEnv } from './local.mjs';

const WRANGLER = `${ROOT}node_modules/.bin/wrangler`;
const HARD_REQUEST_CAP = 1_000_000; // a bound on any load loop, whatever the duration

/** Benchmark options shared by all sections (from the command line). */
export const DEFAULTS = { duration: 10, warmup: 3, concurrency: 8, rounds: 2, batch: 100 };

/** Starts Tessera (`wrangler dev`, fresh temporary state, one source). Returns `{ url, writeKey, stop() }`. */
export async function startBenchTessera() {
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-'));
  let dev;
  try {
    dev = await startDev({ persistTo, log: process.env.BENCH_LOG === '1' });
    const source = await ensureSource(dev.url, dev.adminToken, 'Benchmark');
    return {
      url: dev.url,
      adminToken: dev.adminToken,
      writeKey: source.writeKey,
      sourceId: source.id,
      stop: async () => {
        await dev.stop();
        await rm(persistTo, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await dev?.stop();
    await rm(persistTo, { recursive: true, force: true });
    throw err;
  }
}

/** Starts any Worker config under `wrangler dev` on loopback (`vars` as `--var`); resolves once it answers HTTP. */
export async function startWorker(configPath, vars = {}) {
  const port = await freePort();
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-w-'));
  const args = ['dev', '-c', configPath, '--port', String(port), '--ip', '127.0.0.1', '--persist-to', persistTo];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    env: toolEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d) => {
    output = (output + d).slice(-50_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    }
    await rm(persistTo, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev -c ${configPath} exited (${child.exitCode}):\n${output}`);
    }
    try {
      await fetch(url);
      break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev -c ${configPath} did not answer within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, stop, output: () => output };
}

/** One HTTP POST over a keep-alive agent; resolves `{ status, body }`. */
function post(agent, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;

/**
 * Closed-loop load: `concurrency` workers, each on its own keep-alive connection, POST
 * `makeBody(i)` back to back for `durationMs` (and at most `maxRequests`). `countAccepted(res)`
 * says how many events a response accepted (0 = failure). Returns counts, rates and latencies.
 */
export async function loadTest({
  url,
  headers = {},
  makeBody,
  countAccepted,
  concurrency,
  durationMs,
  maxRequests = HARD_REQUEST_CAP,
}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  let requests = 0;
  let accepted = 0;
  let failed = 0;
  let firstError;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async () => {
    while (performance.now() < deadline && requests < Math.min(maxRequests, HARD_REQUEST_CAP)) {
      const body = makeBody(requests++);
      const t0 = performance.now();
      try {
        const res = await post(agent, url, headers, body);
        latencies.push(performance.now() - t0);
        const n = countAccepted(res);
        if (n > 0) accepted += n;
        else {
          failed++;
          firstError ??= `${res.status} ${res.body.slice(0, 300)}`;
        }
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests,
    failed,
    firstError,
    accepted,
    seconds,
    requestsPerSecond: (requests - failed) / seconds,
    eventsPerSecond: accepted / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** A `/v1/batch` body of `size` track events; ids vary per request so nothing is a duplicate. */
export function batchBody(size, seq, writeKey) {
  const now = new Date().toISOString();
  const events = [];
  for (let i = 0; i < size; i++) {
    events.push(
      `{"type":"track","event":"Product Viewed","userId":"bench-user-${(seq * size + i) % 5000}",` +
        `"messageId":"bench-${seq}-${i}-${randomBytes(4).toString('hex')}","timestamp":"${now}",` +
        `"properties":{"product_id":"sku-${i}","price":19.99,"currency":"EUR","position":${i}}}`,
    );
  }
  return `{"batch":[${events.join(',')}],"sentAt":"${now}","context":{"library":{"name":"tessera-bench","version":"1"}}${
    writeKey ? `,"writeKey":"${writeKey}"` : ''
  }}`;
}

/** The admin API of a bench Tessera: POSTs JSON, answers the parsed body, throws on a non-2xx answer. */
export function adminPoster(tessera) {
  return (path, body) =>
    fetch(`${tessera.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tessera.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return r.json();
    });
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * An A/B run in one process tree: loads `/v1/batch` with each target's write key (`{ name,
 * writeKey }`), a warm-up each, then `rounds` rounds in alternating order, so drift on a shared
 * machine hits both sides alike. Answers each target's events/s and p50 per round.
 */
export async function compareWriteKeys(ctx, tessera, targets) {
  const { duration, warmup, concurrency, rounds, batch } = ctx.options;
  const run = (target, durationMs) =>
    loadTest({
      url: `${tessera.url}/v1/batch`,
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${target.writeKey}:`).toString('base64')}`,
      },
      makeBody: (seq) => batchBody(batch, seq),
      countAccepted: acceptedEvents(batch),
      concurrency,
      durationMs,
    });
  for (const target of targets) await run(target, warmup * 1000);
  const results = Object.fromEntries(targets.map((t) => [t.name, { eventsPerSecond: [], p50Ms: [] }]));
  const width = Math.max(...targets.map((t) => t.name.length)) + 1;
  for (let r = 0; r < rounds; r++) {
    for (const target of r % 2 ? [...targets].reverse() : targets) {
      const res = await run(target, duration * 1000);
      results[target.name].eventsPerSecond.push(res.eventsPerSecond);
      results[target.name].p50Ms.push(res.p50Ms);
      ctx.log(
        `  round ${r + 1} ${target.name.padEnd(width)} ${Math.round(res.eventsPerSecond)} events/s  p50 ${res.p50Ms.toFixed(1)} ms`,
      );
    }
  }
  return results;
}

/** Accepted events of a Tracking API answer: all of them on `{"success":true}`, else `accepted`. */
export function acceptedEvents(size) {
  return (res) => {
    if (res.status !== 200) return 0;
    if (res.body === '{"success":true}') return size;
    try {
      const parsed = JSON.parse(res.body);
      return parsed.success ? (parsed.accepted ?? size) : 0;
    } catch {
      return 0;
    }
  };
}

/** Section `ingest`: accepted events/s on `POST /v1/batch` vs a trivial Worker, same client. */
async function benchIngest(ctx) {
  const { duration, warmup, concurrency, rounds, batch } = ctx.options;
  ctx.log(`starting trivial Worker and Tessera (wrangler dev, loopback)…`);
  const trivial = await startWorker(join(ROOT, 'bench', 'wrangler.trivial.toml'));
  let tessera;
  try {
    tessera = await startBenchTessera();
    const auth = { authorization: `Basic ${Buffer.from(`${tessera.writeKey}:`).toString('base64')}` };
    const targets = [
      { name: 'trivial', url: `${trivial.url}/v1/batch` },
      { name: 'tessera', url: `${tessera.url}/v1/batch`, headers: auth },
    ];
    const run = (target, durationMs) =>
      loadTest({
        url: target.url,
        headers: { 'content-type': 'application/json', ...target.headers },
        makeBody: (seq) => batchBody(batch, seq),
        countAccepted: acceptedEvents(batch),
        concurrency,
        durationMs,
      });
    for (const target of targets) await run(target, warmup * 1000);
    const results = { trivial: [], tessera: [] };
    // Rounds alternate between targets so background load on a shared machine hits both alike.
    for (let r = 0; r < rounds; r++) {
      for (const target of r % 2 ? [...targets].reverse() : targets) {
        const res = await run(target, duration * 1000);
        results[target.name].push(res);
        ctx.log(
          `  round ${r + 1} ${target.name.padEnd(8)} ${fmt(res.eventsPerSecond)} events/s  ` +
            `${fmt(res.requestsPerSecond)} req/s  p50 ${res.p50Ms.toFixed(1)} ms  p99 ${res.p99Ms.toFixed(1)} ms` +
            (res.failed ? `  FAILED ${res.failed}/${res.requests}: ${res.firstError}` : ''),
        );
      }
    }
    const median = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    const trivialEps = median(results.trivial.map((r) => r.eventsPerSecond));
    const tesseraEps = median(results.tessera.map((r) => r.eventsPerSecond));
    const failed = [...results.trivial, ...results.tessera].reduce((n, r) => n + r.failed, 0);
    ctx.log(`  trivial Worker : ${fmt(trivialEps)} events/s`);
    ctx.log(`  Tessera        : ${fmt(tesseraEps)} events/s`);
    ctx.log(`  ratio          : ${(tesseraEps / trivialEps).toFixed(3)} (Tessera / trivial)`);
    if (failed) ctx.log(`  WARNING: ${failed} requests failed; figures count accepted events only`);
    // The Tracking API's latency while the pipeline behind it is saturated (scripts/bench-ingest-load.mjs).
    const underLoad = await ingestUnderLoad(ctx, tessera);
    return {
      underLoad,
      trivialEventsPerSecond: trivialEps,
      tesseraEventsPerSecond: tesseraEps,
      ratio: tesseraEps / trivialEps,
      failed,
      rounds: results,
    };
  } finally {
    await tessera?.stop();
    await trivial.stop();
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** Every benchmark section, run in this order. Append new ones here. */
export const SECTIONS = [
  {
    name: 'ingest',
    title: 'POST /v1/batch (100 events) vs a trivial Worker; p50/p99 while the pipeline is saturated',
    run: benchIngest,
  },
  { name: 'governance', title: 'Ingest with a 50-rule tracking plan vs none', run: benchGovernance },
  {
    name: 'functions',
    title: 'Ingest with an insert function vs none; cold vs warm function load',
    run: benchFunctions,
  },
  {
    name: 'delivery',
    title: 'event → destination latency p50/p95 and delivered events/s (webhook)',
    run: benchDelivery,
  },
  {
    name: 'identity',
    title: 'identity resolution p50/p95 per event and ingest → profile events/s',
    run: benchIdentity,
  },
  {
    name: 'audiences',
    title: 'qualifying event → audience event at the destination p50/p95 (webhook), personalize latency',
    run: benchAudiences,
  },
  {
    name: 'insights',
    title: 'rollup cost per event; trends/funnel/retention latency over 100k events',
    run: benchInsights,
  },
  {
    name: 'archive',
    title: 'R2 archive: R2 writes and bytes per 1,000 events, end-to-end throughput with / without',
    run: benchArchive,
  },
  {
    name: 'pipeline',
    title: 'events/s to a webhook: Tessera vs the floor Worker (a SQLite Durable Object per user), 100 users',
    run: benchPipeline,
  },
  {
    name: 'cost',
    title: "billable units per event from the usage meter: known user's track, new user's identify, merge",
    run: benchCost,
  },
];

/** Runs the selected sections; returns `{ machine, sections: { name: figures } }`. */
export async function main(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: npm run bench -- [--only ${SECTIONS.map((s) => s.name).join(',')}] [--duration s] [--warmup s] ` +
        `[--concurrency n] [--rounds n] [--batch n] [--json]`,
    );
    return undefined;
  }
  const options = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    if (values[key] === undefined) continue;
    const n = Number(values[key]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number`);
    options[key] = key === 'duration' || key === 'warmup' ? n : Math.round(n);
  }
  const wanted = values.only?.split(',').map((s) => s.trim());
  const unknown = wanted?.filter((w) => !SECTIONS.some((s) => s.name === w)) ?? [];
  if (unknown.length) throw new Error(`unknown section(s): ${unknown.join(', ')}`);
  const log = values.json ? (line) => console.error(line) : (line) => console.log(line);
  const machine = { cpus: os.cpus().length, loadBefore: os.loadavg().map((x) => +x.toFixed(2)) };
  log(
    `Tessera benchmarks: ${machine.cpus} CPUs, load ${machine.loadBefore.join(' ')}; ` +
      `${options.concurrency} connections, ${options.duration} s × ${options.rounds} rounds, ${options.warmup} s warmup`,
  );
  const out = { options, machine, sections: {} };
  for (const section of SECTIONS) {
    if (wanted && !wanted.includes(section.name)) continue;
    log(`\n[${section.name}] ${section.title}`);
    out.sections[section.name] = await section.run({ options, log });
  }
  machine.loadAfter = os.loadavg().map((x) => +x.toFixed(2));
  log(`\nload average after: ${machine.loadAfter.join(' ')} (other processes on this machine skew both sides)`);
  if (values.json) console.log(JSON.stringify(out, null, 2));
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
