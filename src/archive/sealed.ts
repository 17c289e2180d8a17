import type { DeliveryAttempt } from '../delivery/messages';
import { hasSealed, openDeep } from '../privacy/pii';
import { loadPii, piiKeyring, sealEvent } from '../privacy/pii-guard';
import type { ArchiveRow } from './schema';

/** The JSON columns that may hold sealed PII trait values (`traits`, `context.traits`). */
const SEALED_COLUMNS = ['traits', 'context'] as const;

/**
 * Archived rows with their sealed values opened. The archive keeps PII trait values sealed as
 * profiles do (the ingest consumer hands it the sealed events); a replay opens them so its filter,
 * the privacy gate and destinations see what the client sent.
 */
export async function openRows(env: Cloudflare.Env, rows: ArchiveRow[]): Promise<ArchiveRow[]> {
  if (!rows.some((r) => SEALED_COLUMNS.some((c) => r[c]?.includes('"pii1.')))) return rows;
  const ring = await piiKeyring(env);
  if (!ring) return rows;
  return Promise.all(
    rows.map(async (row) => {
      const out = { ...row };
      for (const c of SEALED_COLUMNS) {
        const text = row[c];
        if (text?.includes('"pii1.')) out[c] = JSON.stringify(await openDeep(ring, JSON.parse(text)));
      }
      return out;
    }),
  );
}

/** Replay attempts with their events sealed again for the retry queue (delivery opens them). */
export async function sealAttempts(env: Cloudflare.Env, attempts: DeliveryAttempt[]): Promise<DeliveryAttempt[]> {
  const pii = await loadPii(env);
  if (!pii.ring) return attempts;
  return Promise.all(
    attempts.map(async (a) => (hasSealed(a.event) ? a : { ...a, event: await sealEvent(pii, a.event) })),
  );
}
