import { deliveryConfig } from '../delivery/config';
import { perform } from '../delivery/perform';
import { resolvedProblem } from '../delivery/resolve';
import { loadLiveDestinations } from '../delivery/store';
import type { DeletionSubject } from '../destinations/types';
import { parseKey } from '../identity/identifiers';
import type { StageOutcome } from './erase';
import type { Subjects } from './regulation-store';

/** The ids vendors key people by, from the subject's identifier keys. */
export function deletionSubject(subjects: Subjects): DeletionSubject {
  const of = (kind: string) =>
    subjects.keys.flatMap((k) => {
      const id = parseKey(k);
      return id?.kind === kind ? [id.value] : [];
    });
  return { userIds: of('user_id'), anonymousIds: of('anonymous_id'), emails: of('email') };
}

/** One destination's answer to a forwarded deletion, kept in the stage's progress. */
export interface ForwardResult {
  destinationId: string;
  type: string;
  status: 'SENT' | 'FAILED' | 'UNSUPPORTED' | 'NOT_CONFIGURED';
  requests: number;
  error?: string;
}

/**
 * Forwards the deletion to every enabled destination whose vendor has a deletion API, with the
 * delivery layer's request execution (timeout, SSRF guard, no redirects). A destination without
 * one, or without the credential its deletion needs, is reported and does not fail the stage.
 */
export async function forwardDeletion(
  env: Cloudflare.Env,
  subjects: Subjects,
  fetcher: typeof fetch = fetch,
): Promise<StageOutcome & { destinations: ForwardResult[] }> {
  const subject = deletionSubject(subjects);
  const out: ForwardResult[] = [];
  const config = deliveryConfig(env);
  for (const dest of await loadLiveDestinations(env)) {
    const base = { destinationId: dest.id, type: dest.def.id };
    if (!dest.def.deleteUser) {
      out.push({ ...base, status: 'UNSUPPORTED', requests: 0 });
      continue;
    }
    const now = new Date();
    const reqs = dest.def.deleteUser(subject, dest.settings, {
      now,
      destinationId: dest.id,
      destinationName: dest.name,
    });
    if (!reqs.length) {
      out.push({ ...base, status: 'NOT_CONFIGURED', requests: 0 });
      continue;
    }
    let error: string | undefined;
    for (const req of reqs) {
      const res = await perform(req, {
        timeoutMs: config.timeoutMs,
        allowLoopback: config.allowLoopback,
        fetch: fetcher,
        bodyError: dest.def.bodyError,
        resolve: (url) => resolvedProblem(url, { allowLoopback: config.allowLoopback }),
      });
      if (!res.ok) error ??= res.error.message;
    }
    out.push({ ...base, status: error ? 'FAILED' : 'SENT', requests: reqs.length, error });
  }
  const supported = out.filter((d) => d.status === 'SENT' || d.status === 'FAILED');
  const failed = supported.filter((d) => d.status === 'FAILED').length;
  const status = !supported.length
    ? 'SKIPPED'
    : !failed
      ? 'FINISHED'
      : failed < supported.length
        ? 'PARTIAL_SUCCESS'
        : 'FAILED';
  return { status, total: supported.length, done: supported.length - failed, destinations: out };
}
