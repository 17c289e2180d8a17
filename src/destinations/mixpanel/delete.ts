import { jsonRequest } from '../common';
import type { DeletionSubject, RequestDescription } from '../types';
import { MIXPANEL_HOSTS, type MixpanelSettings } from './settings';

const GDPR_HOSTS = {
  US: 'https://mixpanel.com',
  EU: 'https://eu.mixpanel.com',
  IN: 'https://in.mixpanel.com',
} as const;
/** The GDPR API takes at most 2000 distinct ids per task. */
const PER_TASK = 2000;

/**
 * Mixpanel: with the GDPR OAuth token, a deletion task of the GDPR API (events and profile);
 * without it, the profile's `$delete` through /engage (events stay; the only deletion a project
 * token may ask for).
 */
export function mixpanelDeletion(subject: DeletionSubject, s: MixpanelSettings): RequestDescription[] {
  const ids = [...subject.userIds, ...subject.anonymousIds];
  if (!ids.length) return [];
  if (!s.gdprToken) {
    const body = ids.map((id) => ({ $token: s.projectToken, $distinct_id: id, $delete: null, $ignore_alias: false }));
    return [jsonRequest('POST', `${MIXPANEL_HOSTS[s.region]}/engage?verbose=1`, body)];
  }
  const out: RequestDescription[] = [];
  for (let i = 0; i < ids.length; i += PER_TASK) {
    const url = `${GDPR_HOSTS[s.region]}/api/app/data-deletions/v3.0/?token=${encodeURIComponent(s.projectToken)}`;
    const body = { distinct_ids: ids.slice(i, i + PER_TASK), compliance_type: 'GDPR' };
    out.push(jsonRequest('POST', url, body, { authorization: `Bearer ${s.gdprToken}` }));
  }
  return out;
}
