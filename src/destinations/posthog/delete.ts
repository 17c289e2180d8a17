import { jsonRequest } from '../common';
import type { DeletionSubject, RequestDescription } from '../types';
import type { PosthogSettings } from './settings';

/** `bulk_delete` takes at most 1000 ids per call. */
const PER_REQUEST = 1000;

/** The private API host of an ingestion host: PostHog Cloud's `us.i.posthog.com` → `us.posthog.com`. */
export const posthogApiHost = (host: string) => host.replace(/\/+$/, '').replace(/\.i\.posthog\.com$/, '.posthog.com');

/**
 * PostHog: `POST /api/projects/:project_id/persons/bulk_delete/` by distinct ids, with their events,
 * authenticated by a personal API key (the project key can only capture).
 */
export function posthogDeletion(subject: DeletionSubject, s: PosthogSettings): RequestDescription[] {
  if (!s.personalApiKey || !s.projectId) return [];
  const ids = [...subject.userIds, ...subject.anonymousIds];
  const url = `${posthogApiHost(s.host)}/api/projects/${encodeURIComponent(s.projectId)}/persons/bulk_delete/`;
  const out: RequestDescription[] = [];
  for (let i = 0; i < ids.length; i += PER_REQUEST) {
    const body = { distinct_ids: ids.slice(i, i + PER_REQUEST), delete_events: true };
    out.push(jsonRequest('POST', url, body, { authorization: `Bearer ${s.personalApiKey}` }));
  }
  return out;
}
