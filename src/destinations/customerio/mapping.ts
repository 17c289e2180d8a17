import type { EnrichedEvent } from '../../ingest/spec';
import type { JsonObject } from '../../lib/json';
import { basicAuth, compact, contextString, epochMs, jsonRequest, propertiesOf, traitsOf } from '../common';
import { PermanentError } from '../errors';
import type { RequestDescription } from '../types';
import { CUSTOMERIO_HOSTS, type CustomerioSettings } from './settings';

const seconds = (e: EnrichedEvent) => Math.floor(epochMs(e) / 1000);

/** Traits → person attributes; `createdAt` becomes Customer.io's `created_at` (unix seconds). */
function attributes(traits: JsonObject): JsonObject {
  const { createdAt, ...rest } = traits;
  const created = typeof createdAt === 'string' ? Math.floor(Date.parse(createdAt) / 1000) : createdAt;
  return compact({ ...rest, created_at: Number.isFinite(created) ? created : undefined });
}

/** One Segment event → one Track API request (v1; group uses v2 objects). */
export function mapCustomerio(events: EnrichedEvent[], s: CustomerioSettings): RequestDescription {
  const e = events[0];
  const host = CUSTOMERIO_HOSTS[s.region];
  const auth = { authorization: basicAuth(s.siteId, s.apiKey) };
  const person = (id: string) => `${host}/api/v1/customers/${encodeURIComponent(id)}`;
  const userId = e.userId === undefined ? undefined : String(e.userId);
  switch (e.type) {
    case 'identify': {
      const traits = traitsOf(e);
      const id = userId ?? (typeof traits.email === 'string' ? traits.email : undefined);
      if (!id) throw new PermanentError('Customer.io needs a userId or an email trait to identify a person');
      return jsonRequest('PUT', person(id), attributes(traits), auth);
    }
    case 'group': {
      const body = compact({
        type: 'object',
        identifiers: { object_type_id: s.objectTypeId, object_id: String(e.groupId) },
        action: 'identify',
        attributes: traitsOf(e),
        cio_relationships: userId ? [{ identifiers: { id: userId } }] : undefined,
      });
      return jsonRequest('POST', `${host}/api/v2/entity`, body, auth);
    }
    case 'alias':
      if (!userId) throw new PermanentError("Customer.io merges need the alias call's userId");
      return jsonRequest(
        'POST',
        `${host}/api/v1/merge_customers`,
        { primary: { id: userId }, secondary: { id: String(e.previousId) } },
        auth,
      );
    default: {
      const isView = e.type === 'page' || e.type === 'screen';
      const name = e.type === 'track' ? e.event : (contextString(e, 'page.url') ?? e.name ?? e.type);
      const event = compact({
        type: isView ? e.type : undefined,
        name,
        data: propertiesOf(e),
        timestamp: seconds(e),
      });
      if (userId) return jsonRequest('POST', `${person(userId)}/events`, event, auth);
      return jsonRequest('POST', `${host}/api/v1/events`, { anonymous_id: String(e.anonymousId), ...event }, auth);
    }
  }
}
