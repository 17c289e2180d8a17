import { jsonRequest } from '../common';
import type { DeletionSubject, RequestDescription } from '../types';
import type { BrazeSettings } from './settings';

/** `/users/delete` takes at most 50 external ids per request. */
const PER_REQUEST = 50;

/** Braze: `POST /users/delete` with `external_ids` (the user ids Tessera sends as external_id). */
export function brazeDeletion(subject: DeletionSubject, s: BrazeSettings): RequestDescription[] {
  const out: RequestDescription[] = [];
  const base = s.restEndpoint.replace(/\/+$/, '');
  for (let i = 0; i < subject.userIds.length; i += PER_REQUEST) {
    const body = { external_ids: subject.userIds.slice(i, i + PER_REQUEST) };
    out.push(jsonRequest('POST', `${base}/users/delete`, body, { authorization: `Bearer ${s.apiKey}` }));
  }
  return out;
}
