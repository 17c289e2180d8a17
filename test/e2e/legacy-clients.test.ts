// Server SDKs Tessera's other tests do not use, each run in its own Node process as a customer's
// server would run it: the legacy `analytics-node` 6.x and `@rudderstack/rudder-sdk-node` 3.x.
// Both turn a 4xx from the Tracking API into an unhandled rejection, which ends the process; so an
// unknown, disabled or rotated key must be answered 200 (and counted), never 401.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/local.mjs';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

type Client = 'analytics-node' | 'rudder';
const require = createRequire(import.meta.url);
const LEGACY_VERSION = (require('analytics-node/package.json') as { version: string }).version;

// The customer's program: an identify and a track, then a final flush. The SDK flushes on its
// own as calls come in (flushAt 1), exactly where a 4xx becomes an unhandled rejection.
const PROGRAM = `
const kind = process.env.CLIENT;
const Analytics = require(kind === 'rudder' ? '@rudderstack/rudder-sdk-node' : 'analytics-node');
const options = kind === 'rudder'
  ? { dataPlaneUrl: process.env.HOST, flushAt: 1, flushInterval: 200, retryCount: 0, logLevel: 'error' }
  : { host: process.env.HOST, flushAt: 1, flushInterval: 200, retryCount: 0 };
const analytics = new Analytics(process.env.WRITE_KEY, options);
const userId = process.env.USER_ID;
analytics.identify({ userId, traits: { plan: 'legacy' } });
analytics.track({ userId, event: 'Legacy Client Event', properties: { run: process.env.RUN } });
setTimeout(() => analytics.flush(() => console.log('flushed')), 500);
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the program in a child Node process and waits for it to exit (killed after 20 s). */
function runClient(client: Client, env: { HOST: string; WRITE_KEY: string; USER_ID: string; RUN: string }) {
  return new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, ['-e', PROGRAM], {
      cwd: ROOT,
      env: { ...process.env, ...env, CLIENT: client },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface RejectedKey {
  keyPrefix: string;
  reason: string;
  sourceId: string | null;
  events: number;
  requests: number;
  lastUserAgent: string | null;
}
interface Received {
  type: string;
  userId?: string;
  event?: string;
  properties?: Record<string, unknown>;
  context?: { library?: { name?: string } };
}

describe('legacy server SDKs → wrangler dev', () => {
  let t: Tessera;
  beforeAll(async () => {
    t = await startTessera({ sourceName: 'legacy clients e2e' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const newSource = (name: string) =>
    t.admin<{ id: string; writeKey: string }>('/api/sources', { method: 'POST', body: { name } });
  const rejected = async (prefix: string) =>
    (await t.admin<{ data: RejectedKey[] }>('/api/ingest/rejected-keys')).data.find((k) => k.keyPrefix === prefix);
  const prefixOf = (key: string) => `${key.slice(0, 8)}…`;
  const expectStayedUp = (run: Run, what: string) => {
    expect(run.code, `${what}: the client process exited with ${run.code}:\n${run.stderr}`).toBe(0);
    expect(run.stderr, `${what}: the client process printed`).not.toMatch(/Unhandled|Unauthorized|Error/);
    expect(run.stdout).toContain('flushed');
  };

  for (const client of ['analytics-node', 'rudder'] as const) {
    it(`${client}: an unknown write key leaves the process up; the requests are counted`, async () => {
      const key = `wk_${randomUUID().replace(/-/g, '')}`;
      const run = await runClient(client, {
        HOST: t.url,
        WRITE_KEY: key,
        USER_ID: `u-${randomUUID()}`,
        RUN: randomUUID(),
      });
      expectStayedUp(run, `${client} with an unknown key`);
      const counted = await eventually(
        async () => {
          const k = await rejected(prefixOf(key));
          return k && k.events === 2 && k;
        },
        { message: `the unknown key of ${client} in /api/ingest/rejected-keys` },
      );
      expect(counted).toMatchObject({ reason: 'unknown', sourceId: null, requests: 2 });
      expect(counted.lastUserAgent).toMatch(/^analytics-node\//);
    });
  }

  it('analytics-node 6: a disabled source leaves the process up; the events are counted, not stored', async () => {
    const source = await newSource('disabled');
    await t.admin(`/api/sources/${source.id}/disable`, { method: 'POST' });
    const run = await runClient('analytics-node', {
      HOST: t.url,
      WRITE_KEY: source.writeKey,
      USER_ID: `u-${randomUUID()}`,
      RUN: randomUUID(),
    });
    expectStayedUp(run, 'analytics-node against a disabled source');
    const counted = await eventually(
      async () => {
        const k = await rejected(prefixOf(source.writeKey));
        return k && k.events === 2 && k;
      },
      { message: 'the disabled source in /api/ingest/rejected-keys' },
    );
    expect(counted).toMatchObject({
      reason: 'disabled',
      sourceId: source.id,
      lastUserAgent: `analytics-node/${LEGACY_VERSION}`,
    });
    expect(await t.debuggerEvents(source.id)).toEqual([]);
  });

  it('analytics-node 6: a rotated key within its grace period still delivers to the debugger and the profile', async () => {
    const source = await newSource('rotated');
    const rotated = await t.admin<{ writeKey: string; previousWriteKey: { key: string; expiresAt: string } }>(
      `/api/sources/${source.id}/rotate-key`,
      { method: 'POST', body: { graceSeconds: 3600 } },
    );
    expect(rotated.previousWriteKey.key).toBe(source.writeKey);
    const userId = `rotated-${randomUUID()}`;
    const run = await runClient('analytics-node', {
      HOST: t.url,
      WRITE_KEY: source.writeKey,
      USER_ID: userId,
      RUN: randomUUID(),
    });
    expectStayedUp(run, 'analytics-node with the previous key');

    const entries = await eventually(
      async () => {
        const es = (await t.debuggerEvents<Received>(source.id)).filter((e) => e.event.userId === userId);
        return es.length === 2 && es;
      },
      { message: 'both events of the previous key in the debugger' },
    );
    for (const e of entries) {
      expect(e.status).toBe('accepted');
      expect(e.writeKey).toBe('previous');
    }
    const events = await eventually(
      async () => {
        const res = await fetch(
          `${t.url}/v1/spaces/default/collections/users/profiles/user_id:${encodeURIComponent(userId)}/events`,
          { headers: { authorization: `Basic ${Buffer.from(`${t.adminToken}:`).toString('base64')}` } },
        );
        const body = res.ok
          ? ((await res.json()) as { data: { type: string; event?: string; source_id: string }[] })
          : undefined;
        return body && body.data.length === 2 && body.data;
      },
      { timeout: 15_000, message: 'both events on the profile' },
    );
    expect(events.map((e) => e.type).sort()).toEqual(['identify', 'track']);
    expect(events.every((e) => e.source_id === source.id)).toBe(true);
  });

  it('rudder-sdk-node 3: events arrive through /v1/batch (gzip) in the debugger', async () => {
    const userId = `rudder-${randomUUID()}`;
    const runId = randomUUID();
    const run = await runClient('rudder', { HOST: t.url, WRITE_KEY: t.writeKey, USER_ID: userId, RUN: runId });
    expectStayedUp(run, 'rudder with a valid key');
    const entries = await eventually(
      async () => {
        const es = (await t.debuggerEvents<Received>()).filter((e) => e.event.userId === userId);
        return es.length === 2 && es;
      },
      { message: 'both rudder events in the debugger' },
    );
    for (const e of entries) expect(e.status, JSON.stringify(e.error)).toBe('accepted');
    const track = entries.find((e) => e.event.type === 'track')!.event;
    expect(track).toMatchObject({ event: 'Legacy Client Event', properties: { run: runId } });
    expect(track.context?.library?.name).toBe('analytics-node');
  });
});
