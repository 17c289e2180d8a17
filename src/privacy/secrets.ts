import type { DestinationRow } from '../db/destinations-schema';
import { destinationType } from '../destinations/registry';
import { openDeep, seal } from './pii';
import { piiKeyring } from './pii-guard';

/**
 * Destination secrets (a type's `secrets` settings: API keys, shared secrets, webhook URLs) at rest:
 * sealed with the PII keyring before a row is written, opened where a row is read. Without
 * `PII_KEY` rows are stored as they are; a sealed row still opens after the key rotates.
 */
export async function sealDestinationRow<T extends Pick<DestinationRow, 'type' | 'settings'>>(
  env: Env,
  row: T,
): Promise<T> {
  const ring = await piiKeyring(env);
  const def = destinationType(row.type);
  if (!ring || !def?.secrets.length) return row;
  const settings: Record<string, unknown> = { ...row.settings };
  for (const key of def.secrets) {
    if (settings[key] !== undefined && settings[key] !== null) settings[key] = await seal(ring, settings[key]);
  }
  return { ...row, settings };
}

/** A stored row with its sealed secrets opened. */
export async function openDestinationRow<T extends Pick<DestinationRow, 'settings'>>(env: Env, row: T): Promise<T> {
  const ring = await piiKeyring(env);
  if (!ring) return row;
  return { ...row, settings: (await openDeep(ring, row.settings)) as T['settings'] };
}

/**
 * A function instance's secret setting values (those its version declares `secret`) as D1 keeps
 * them: each sealed like a destination secret. Without `PII_KEY` they are stored as they are.
 */
export async function sealSecretValues(env: Env, values: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ring = await piiKeyring(env);
  if (!ring) return values;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) out[k] = v === null || v === undefined ? v : await seal(ring, v);
  return out;
}

/** Stored secret setting values opened (values stored before sealing pass as they are). */
export async function openSecretValues(env: Env, values: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ring = await piiKeyring(env);
  return ring ? ((await openDeep(ring, values)) as Record<string, unknown>) : values;
}
