import { openDeep, seal } from './pii';
import { piiKeyring } from './pii-guard';

// Apart from `secrets.ts`, which needs the destination registry: functions load these, and the
// function destination is in that registry (an import cycle otherwise).

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
