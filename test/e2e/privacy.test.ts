// Privacy against a real `wrangler dev` with its own fresh state folder: PII arrives through the
// Tracking API, is found by email through the Profile API, and then every file of the state
// folder (D1 and Durable Object SQLite files with their WAL, queue storage, R2 blobs) is scanned
// for the marker email. A webhook whose endpoint redirects to another address is never followed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, ensureSource, startDev } from '../../scripts/local.mjs';

import { type Receiver, startReceiver } from '../kit/receiver';
import { eventually } from '../kit/wait';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

describe('privacy end to end', () => {
  const marker = `pii-marker-${randomBytes(6).toString('hex')}@example.com`;
  let dev: DevServer;
  let persistTo: string;
  let source: { id: string; writeKey: string };
  let target: Receiver;
  let redirector: Receiver;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${dev.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json', ...init.headers },
    });

  beforeAll(async () => {
    persistTo = await mkdtemp(join(tmpdir(), 'tessera-privacy-'));
    target = await startReceiver();
    redirector = await startReceiver(() => ({ status: 302, headers: { location: `${target.url}/stolen` } }));
    dev = await startDev({
      persistTo,
      vars: { PII_KEY: `e2e-${randomBytes(16).toString('hex')}`, DELIVERY_BACKOFF_BASE_SECONDS: '1' },
    });
    source = await ensureSource(dev.url, dev.adminToken, 'privacy e2e');
  });
  afterAll(async () => {
    await dev?.stop();
    await target?.stop();
    await redirector?.stop();
    if (persistTo) await rm(persistTo, { recursive: true, force: true });
  });

  it('finds a profile by email through the blind index and shows the email to the owner only', async () => {
    const userId = `pii-user-${randomBytes(4).toString('hex')}`;
    const res = await fetch(`${dev.url}/v1/identify`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${source.writeKey}:`)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId, traits: { email: marker, name: 'Privacy Marker' } }),
    });
    expect(res.status).toBe(200);
    const traits = await eventually(
      async () => {
        const r = await admin(`/v1/spaces/default/collections/users/profiles/email:${marker}/traits`);
        return r.ok ? ((await r.json()) as { traits: Record<string, unknown> }).traits : undefined;
      },
      { timeout: 30_000, message: 'profile by email' },
    );
    expect(traits).toMatchObject({ email: marker, name: 'Privacy Marker' });
    const minted = await (
      await admin('/api/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: 'reader', scopes: ['profiles:read'] }),
      })
    ).json();
    const masked = await fetch(`${dev.url}/v1/spaces/default/collections/users/profiles/user_id:${userId}/traits`, {
      headers: { authorization: `Bearer ${(minted as { token: string }).token}` },
    });
    expect(((await masked.json()) as { traits: Record<string, unknown> }).traits.email).toBe('p***@example.com');
  });

  it('never follows a webhook redirect: the redirect target gets nothing', async () => {
    const dest = await admin('/api/destinations', {
      method: 'POST',
      body: JSON.stringify({
        type: 'webhook',
        name: 'redirects',
        sourceIds: [source.id],
        settings: { url: `${redirector.url}/hook` },
      }),
    });
    expect(dest.status).toBe(201);
    const { id } = (await dest.json()) as { id: string };
    await fetch(`${dev.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${source.writeKey}:`)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'redirect-user', event: 'Redirect Me' }),
    });
    await eventually(() => redirector.requests.length > 0, { timeout: 30_000, message: 'the webhook request' });
    const failures = await eventually(
      async () => {
        const body = (await (await admin(`/api/destinations/${id}/failures`)).json()) as { data: unknown[] };
        return body.data.length ? body.data : undefined;
      },
      { timeout: 30_000, message: 'the dead letter' },
    );
    expect(JSON.stringify(failures)).toMatch(/redirected/);
    expect(target.requests).toEqual([]);
  });

  it('the state folder holds the email in no D1 file and no Durable Object file (WAL included)', async () => {
    await dev.stop(); // lets SQLite checkpoint and close its files
    const hits: string[] = [];
    const files = await filesUnder(persistTo);
    for (const f of files) if ((await readFile(f)).includes(Buffer.from(marker))) hits.push(relative(persistTo, f));
    console.log(`privacy scan: ${files.length} files, marker in: ${hits.join(', ') || 'none'}`);
    expect(files.some((f) => f.includes('Profile'))).toBe(true); // the scan reads the real layout
    // Only wrangler's own local trace store (request URLs of the dev server) may hold it.
    expect(hits.filter((h) => /(^|\/)(d1|do)\//.test(h))).toEqual([]);
  });
});
