// Starts a complete local Tessera: D1 migrations applied, `wrangler dev` running, a default
// source present. Used by `npm start`, the end-to-end tests and the benchmarks.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRANGLER = `${ROOT}node_modules/.bin/wrangler`;

/**
 * The environment for tools we spawn: `node_modules/.bin` first on PATH, so wrangler's
 * `#!/usr/bin/env node` finds the Node 22 that `npm install` brought (the `node` dev
 * dependency) even when this script was started with an older system `node` directly.
 */
export function toolEnv(extra = {}) {
  const path = `${ROOT}node_modules/.bin${delimiter}${process.env.PATH ?? ''}`;
  return { ...process.env, PATH: path, CI: '1', WRANGLER_SEND_METRICS: 'false', ...extra };
}

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Applies D1 migrations to the local database kept in `persistTo`. */
export function applyMigrations(persistTo) {
  const args = ['d1', 'migrations', 'apply', 'tessera', '--local'];
  if (persistTo) args.push('--persist-to', persistTo);
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, encoding: 'utf8', env: toolEnv() });
  if (r.status !== 0) throw new Error(`migrations failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * Starts `wrangler dev` and waits until it answers. Returns `{ url, adminToken, stop() }`.
 * `persistTo` keeps local state (D1, DOs, queues) in a folder; tests pass a temporary one.
 */
export async function startDev({ port, persistTo, adminToken, vars = {}, log = false, extraArgs = [] } = {}) {
  port ??= await freePort();
  adminToken ??= `adm_${randomBytes(18).toString('hex')}`;
  applyMigrations(persistTo);
  const args = [
    'dev',
    '--port',
    String(port),
    '--ip',
    '127.0.0.1',
    '--var',
    `ADMIN_TOKEN:${adminToken}`,
    '--var',
    'TESSERA_ENV:local',
    // Local runs (tests, benchmarks) send from one address as fast as they can: sources are not
    // rate-limited unless a tier is set on them (README, Privacy and security).
    '--var',
    'RATE_LIMIT_DEFAULT_TIER:off',
  ];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  if (persistTo) args.push('--persist-to', persistTo);
  args.push(...extraArgs); // e.g. ['--inspector-port', '9229'] to profile
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    env: toolEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  let output = '';
  const onData = (d) => {
    output += d;
    if (output.length > 200_000) output = output.slice(-100_000);
    if (log) process.stdout.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`wrangler dev did not answer within 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
    });
  return { url, port, adminToken, child, stop, output: () => output };
}

/** Returns the first source (creating "Default source" if there is none). */
export async function ensureSource(url, adminToken, name = 'Default source') {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const list = await (await fetch(`${url}/api/sources`, { headers })).json();
  if (list.data?.length) return list.data[list.data.length - 1];
  const res = await fetch(`${url}/api/sources`, { method: 'POST', headers, body: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`could not create source: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The standard Segment snippet with its host swapped to Tessera. */
export function snippetFor(url, writeKey) {
  const host = url.replace(/\/$/, '');
  return `<script>
  !function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="${host}/analytics.js/v1/" + key + "/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="${writeKey}";;analytics.SNIPPET_VERSION="5.2.0";
  analytics.load("${writeKey}");
  analytics.page();
  }}();
</script>`;
}
