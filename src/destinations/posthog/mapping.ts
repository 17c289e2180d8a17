import type { EnrichedEvent } from '../../ingest/spec';
import type { JsonObject } from '../../lib/json';
import { compact, contextString, joinUrl, jsonRequest, propertiesOf, traitsOf } from '../common';
import type { RequestDescription } from '../types';
import type { PosthogSettings } from './settings';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Name and extra properties of the PostHog event a Segment call becomes. */
function translate(e: EnrichedEvent, s: PosthogSettings): { event: string; properties: JsonObject } {
  switch (e.type) {
    case 'identify':
      return { event: '$identify', properties: compact({ $set: traitsOf(e), $anon_distinct_id: e.anonymousId }) };
    case 'group':
      return {
        event: '$groupidentify',
        properties: { $group_type: s.groupType, $group_key: String(e.groupId), $group_set: traitsOf(e) },
      };
    case 'alias':
      return { event: '$create_alias', properties: { alias: String(e.previousId) } };
    case 'page':
      return {
        event: '$pageview',
        properties: compact({
          $current_url: contextString(e, 'page.url'),
          $pathname: contextString(e, 'page.path'),
          $referrer: contextString(e, 'page.referrer'),
          title: contextString(e, 'page.title'),
          name: e.name,
          ...propertiesOf(e),
        }),
      };
    case 'screen':
      return { event: '$screen', properties: compact({ $screen_name: e.name, ...propertiesOf(e) }) };
    default:
      return { event: e.event, properties: propertiesOf(e) };
  }
}

/** One Segment event → one PostHog capture item. */
export function posthogEvent(e: EnrichedEvent, s: PosthogSettings): JsonObject {
  const { event, properties } = translate(e, s);
  return compact({
    event,
    // `uuid` dedupes in PostHog; only UUID-shaped message ids qualify.
    uuid: UUID.test(e.messageId) ? e.messageId : undefined,
    timestamp: e.timestamp,
    properties: compact({
      distinct_id: String(e.userId ?? e.anonymousId),
      $ip: contextString(e, 'ip'),
      $lib: 'tessera',
      $insert_id: e.messageId,
      ...properties,
    }),
  });
}

/** Events → one `/batch/` request, the project key in the body. */
export function mapPosthog(events: EnrichedEvent[], s: PosthogSettings): RequestDescription {
  return jsonRequest('POST', joinUrl(s.host, '/batch/'), {
    api_key: s.apiKey,
    historical_migration: false,
    batch: events.map((e) => posthogEvent(e, s)),
  });
}
