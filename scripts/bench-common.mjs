// Pieces the benchmark sections share: a local vendor receiver and the webhook destination that
// posts to it, percentiles, polling, and the
// runner that lets each section file also run on its own (`node scripts/bench-<name>.mjs`).
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** A receiver on loopback answering 200; `onEvent(event, at)` sees each event of each request. */
export async function startReceiver(onEvent) {
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const at = performance.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const e of Array.isArray(body) ? body : [body]) onEvent(e, at);
      } catch {}
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests: () => requests,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** Creates a webhook destination of `sourceId` that posts to the receiver at `receiverUrl`. */
export async function createWebhook({ url, adminToken }, sourceId, receiverUrl, name) {
  const res = await fetch(`${url}/api/destinations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'webhook',
      name,
      sourceIds: [sourceId],
      settings: { url: `${receiverUrl}/hook`, sharedSecret: 'bench-secret-0123' },
    }),
  });
  if (res.status !== 201) throw new Error(`destination creation failed: ${res.status} ${await res.text()}`);
}

/** The p-quantile (0..1) of a list of numbers, nearest rank. */
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : Number.NaN;
};

/** Polls `fn` every 50 ms until it is truthy or `timeoutMs` passes; says which. */
export async function waitUntil(fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Runs a section when its file is the entry point: `options` are parseArgs string options,
 * `toOptions(values)` makes the section's options; `--json` prints the figures as JSON.
 */
export function runStandalone(moduleUrl, section, options, toOptions) {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const { values } = parseArgs({ options: { ...options, json: { type: 'boolean', default: false } } });
  const log = values.json ? (l) => console.error(l) : (l) => console.log(l);
  section({ options: toOptions(values), log })
    .then((out) => values.json && console.log(JSON.stringify(out, null, 2)))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
