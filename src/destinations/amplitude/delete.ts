import { basicAuth, jsonRequest } from '../common';
import type { DeletionSubject, RequestDescription } from '../types';
import type { AmplitudeSettings } from './settings';

const HOSTS = { US: 'https://amplitude.com', EU: 'https://analytics.eu.amplitude.com' } as const;
/** The User Privacy API takes at most 100 users per request. */
const PER_REQUEST = 100;

/** Amplitude User Privacy API: `POST /api/2/deletions/users`, Basic api key : secret key. */
export function amplitudeDeletion(subject: DeletionSubject, s: AmplitudeSettings): RequestDescription[] {
  if (!s.secretKey || !subject.userIds.length) return [];
  const out: RequestDescription[] = [];
  for (let i = 0; i < subject.userIds.length; i += PER_REQUEST) {
    const body = {
      user_ids: subject.userIds.slice(i, i + PER_REQUEST),
      requester: 'tessera',
      ignore_invalid_id: 'true',
    };
    out.push(
      jsonRequest('POST', `${HOSTS[s.region]}/api/2/deletions/users`, body, {
        authorization: basicAuth(s.apiKey, s.secretKey),
      }),
    );
  }
  return out;
}
