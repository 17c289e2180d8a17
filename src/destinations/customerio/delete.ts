import { basicAuth, USER_AGENT } from '../common';
import type { DeletionSubject, RequestDescription } from '../types';
import { CUSTOMERIO_HOSTS, type CustomerioSettings } from './settings';

/** Customer.io Track API: `DELETE /api/v1/customers/{identifier}`, one request per person id. */
export function customerioDeletion(subject: DeletionSubject, s: CustomerioSettings): RequestDescription[] {
  return subject.userIds.map((id) => ({
    method: 'DELETE',
    url: `${CUSTOMERIO_HOSTS[s.region]}/api/v1/customers/${encodeURIComponent(id)}`,
    headers: { authorization: basicAuth(s.siteId, s.apiKey), 'user-agent': USER_AGENT },
  }));
}
