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
