import { ulid } from '../lib/ids';
import type { Invocation } from './sandbox';
import type { LiveInstance } from './store';

/** Invocations kept per instance for `GET /api/functions/:id/invocations`. */
export const KEPT_PER_INSTANCE = 50;
/** Rows one request or consumer batch writes per instance (errors first); all are counted. */
const ROWS_PER_WRITE = 10;

export type InvocationStatus = 'ok' | 'dropped' | 'error';

export interface Ran {
  instance: LiveInstance;
  inv: Invocation;
  status: InvocationStatus;
}

/** A readable one-line error of an invocation. */
export const errorText = (inv: Invocation) => (inv.error ? `${inv.error.name}: ${inv.error.message}` : null);

/**
 * Records what a request or consumer batch ran, in one D1 batch: counts per instance (every
 * invocation and error counted, nothing ever disabled), a few rows each, the ring trimmed.
 */
export async function recordInvocations(d1: D1Database, ran: Ran[]): Promise<void> {
  if (!ran.length) return;
  const at = new Date().toISOString();
  const byInstance = new Map<string, Ran[]>();
  for (const r of ran) byInstance.set(r.instance.id, [...(byInstance.get(r.instance.id) ?? []), r]);
  const statements: D1PreparedStatement[] = [];
  for (const [instanceId, list] of byInstance) {
    const errors = list.filter((r) => r.status === 'error');
    const last = errors[errors.length - 1];
    statements.push(
      d1
        .prepare(
          `INSERT INTO function_instance_stats (instance_id, invocations, errors, last_error, last_error_at)
           VALUES (?1, ?2, ?3, ?4, ?5)
           ON CONFLICT (instance_id) DO UPDATE SET invocations = invocations + ?2, errors = errors + ?3,
             last_error = COALESCE(?4, last_error), last_error_at = COALESCE(?5, last_error_at)`,
        )
        .bind(instanceId, list.length, errors.length, last ? errorText(last.inv) : null, last ? at : null),
    );
    const keep = [...errors, ...list.filter((r) => r.status !== 'error')].slice(0, ROWS_PER_WRITE);
    for (const r of keep) {
      statements.push(
        d1
          .prepare(
            `INSERT INTO function_invocations (id, instance_id, function_id, version, at, status, duration_ms, error, logs)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(
            ulid(),
            instanceId,
            r.instance.fn.id,
            r.instance.fn.version,
            at,
            r.status,
            Math.round(r.inv.durationMs),
            errorText(r.inv),
            JSON.stringify(r.inv.logs),
          ),
      );
    }
    statements.push(
      d1
        .prepare(
          `DELETE FROM function_invocations WHERE instance_id = ?1 AND id NOT IN
           (SELECT id FROM function_invocations WHERE instance_id = ?1 ORDER BY id DESC LIMIT ${KEPT_PER_INSTANCE})`,
        )
        .bind(instanceId),
    );
  }
  await d1.batch(statements);
}
