// ★ Deletion proven by scan: a person's events carry unique markers; after DELETE_INTERNAL reaches
// FINISHED, every byte of wrangler dev's local state folder (D1 and Durable Object SQLite files
// with their WAL and free pages, queue storage, R2 blobs) is searched for the markers.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, ensureSource, startDev } from '../../scripts/local.mjs';

import { type Receiver, startReceiver } from '../kit/receiver';
import { eventually } from '../kit/wait';

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if ((await stat(p)).isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

/** Every file holding any of the markers (as UTF-8 bytes), with which ones. */
async function scan(dir: string, markers: string[]): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const f of await files(dir)) {
    const bytes = await readFile(f);
    const hits = markers.filter((m) => bytes.includes(Buffer.from(m, 'utf8')));
    if (hits.length) found[relative(dir, f)] = hits;
  }
  return found;
}

describe('deletion proven by scan', () => {
  let dev: DevServer;
  let dir: string;
  let receiver: Receiver;
  let writeKey: string;
  let sourceId: string;
  let destinationId: string;
  const tag = randomBytes(6).toString('hex');
  // The markers: values only the deleted person's data contains. The user id the regulation names
  // is not among them: the regulation record and the audit log keep it (the proof of the request).
  const userId = `subject-${tag}`;
  const markers = {
    property: `PROPmk${tag}`,
    trait: `TRAITmk${tag}`,
    email: `emailmk${tag}@example.com`,
    anonymousId: `ANONmk${tag}`,
    context: `CTXmk${tag}`,
  };
  const all = Object.values(markers);

  const admin = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    const res = await fetch(new URL(path, dev.url), {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<T>;
  };
  const send = (path: string, body: unknown) =>
    fetch(new URL(path, dev.url), {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${writeKey}:`)}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-scan-'));
    // The vendor refuses every event: each becomes a delivery dead letter with its payload.
    receiver = await startReceiver(() => ({ status: 400, body: 'refused' }));
    dev = await startDev({ persistTo: dir, vars: { DELIVERY_TIMEOUT_MS: '3000' } });
    const source = await ensureSource(dev.url, dev.adminToken, 'Scan source');
    writeKey = source.writeKey;
    sourceId = source.id;
    destinationId = (
      await admin<{ id: string }>('/api/destinations', {
        method: 'POST',
        body: { type: 'webhook', name: 'Refuses', sourceIds: [sourceId], settings: { url: `${receiver.url}/hook` } },
      })
    ).id;
  });
  afterAll(async () => {
    await dev?.stop();
    await receiver?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds none of the markers anywhere once DELETE_INTERNAL has FINISHED', async () => {
    const ctx = { page: { search: `?q=${markers.context}` } };
    expect(
      (
        await send('/v1/identify', {
          userId,
          anonymousId: markers.anonymousId,
          traits: { email: markers.email, note: markers.trait },
          context: ctx,
        })
      ).status,
    ).toBe(200);
    for (let i = 0; i < 3; i++) {
      const body = { userId, event: 'Bought', properties: { marker: markers.property, i }, context: ctx };
      expect((await send('/v1/track', body)).status).toBe(200);
    }
    // Wait until every store has the person: profile, directory, debugger, delivery dead letters.
    await eventually(
      async () => {
        const dirRows = await admin<{ data: unknown[] }>(`/api/profiles?q=${encodeURIComponent(markers.email)}`);
        const failures = await admin<{ data: unknown[] }>(`/api/destinations/${destinationId}/failures`);
        // The R2 archive too (its queue waits up to 30 s to batch): all four events written.
        const archived = await admin<{ data: { rows: number }[] }>(`/api/archive?sourceId=${sourceId}`);
        const rows = archived.data.reduce((n, o) => n + o.rows, 0);
        return dirRows.data.length > 0 && JSON.stringify(failures).includes(markers.property) && rows >= 4;
      },
      { timeout: 90_000, message: 'the person in the directory, the delivery dead letters and the archive' },
    );
    const before = await scan(dir, all);
    expect(Object.keys(before).length).toBeGreaterThan(0); // the scan can see them
    // ... in the archive's Parquet files as well (R2 blobs), so their absence afterwards means something.
    expect(Object.keys(before).some((f) => f.includes('r2'))).toBe(true);

    const { data } = await admin<{ data: { regulateId: string } }>('/api/regulations', {
      method: 'POST',
      body: { regulationType: 'DELETE_INTERNAL', subjectType: 'USER_ID', subjectIds: [userId] },
    });
    const reg = await eventually(
      async () => {
        const r = await admin<{
          data: { regulation: { overallStatus: string; stages: unknown[]; createdAt: string; finishedAt: string } };
        }>(`/api/regulations/${data.regulateId}`);
        return r.data.regulation.overallStatus === 'RUNNING' || r.data.regulation.overallStatus === 'INITIALIZED'
          ? undefined
          : r.data.regulation;
      },
      { timeout: 60_000, message: 'the regulation to end' },
    );
    expect(reg.overallStatus, JSON.stringify(reg.stages)).toBe('FINISHED');
    console.log(`DELETE_INTERNAL ran in ${Date.parse(reg.finishedAt) - Date.parse(reg.createdAt)} ms`);

    // Stop workerd so every file is closed as it would be left on disk, then read every byte.
    await dev.stop();
    if (process.env.TESSERA_SCAN_KEEP) await cp(dir, process.env.TESSERA_SCAN_KEEP, { recursive: true });
    const after = await scan(dir, all);
    expect(after, `markers still on disk after deletion (before: ${JSON.stringify(before)})`).toEqual({});
    // The id the regulation named stays only in D1: the regulation record and the audit log.
    const named = Object.keys(await scan(dir, [userId]));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((f) => !f.startsWith('v3/d1/'))).toEqual([]);
  });
});
