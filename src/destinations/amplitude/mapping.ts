import type { EnrichedEvent } from '../../ingest/spec';
import type { JsonObject } from '../../lib/json';
import { compact, contextString, epochMs, eventName, jsonRequest, propertiesOf, traitsOf } from '../common';
import type { RequestDescription } from '../types';
import { AMPLITUDE_ENDPOINTS, type AmplitudeSettings } from './settings';

/** Fields every Amplitude event carries: ids, time, insert_id (dedupe), device and location. */
function base(e: EnrichedEvent, suffix = ''): JsonObject {
  return compact({
    user_id: e.userId === undefined ? undefined : String(e.userId),
    device_id: e.anonymousId === undefined ? undefined : String(e.anonymousId),
    time: epochMs(e),
    insert_id: `${e.messageId}${suffix}`,
    ip: contextString(e, 'ip'),
    platform: contextString(e, 'device.type'),
    os_name: contextString(e, 'os.name'),
    os_version: contextString(e, 'os.version'),
    device_manufacturer: contextString(e, 'device.manufacturer'),
    device_model: contextString(e, 'device.model'),
    app_version: contextString(e, 'app.version'),
    language: contextString(e, 'locale'),
    country: contextString(e, 'location.country'),
    city: contextString(e, 'location.city'),
    library: 'tessera',
  });
}

/** One Segment event → the Amplitude events it stands for (group() assigns and describes). */
export function amplitudeEvents(e: EnrichedEvent, s: AmplitudeSettings): JsonObject[] {
  switch (e.type) {
    case 'identify':
      return [{ ...base(e), event_type: '$identify', user_properties: { $set: traitsOf(e) } }];
    case 'group': {
      const groups = { [s.groupType]: String(e.groupId) };
      return [
        { ...base(e), event_type: '$identify', groups, user_properties: { $set: groups } },
        {
          ...base(e, ':group'),
          event_type: '$groupidentify',
          groups,
          group_properties: { $set: traitsOf(e) },
        },
      ];
    }
    default: {
      const props = propertiesOf(e);
      const revenue = typeof props.revenue === 'number' ? props.revenue : undefined;
      return [compact({ ...base(e), event_type: eventName(e), event_properties: props, revenue })];
    }
  }
}

/** Events → one HTTP V2 request (`/2/httpapi`): api_key in the body, events with insert_id. */
export function mapAmplitude(events: EnrichedEvent[], s: AmplitudeSettings): RequestDescription {
  const body: JsonObject = { api_key: s.apiKey, events: events.flatMap((e) => amplitudeEvents(e, s)) };
  if (s.minIdLength !== undefined) body.options = { min_id_length: s.minIdLength };
  return jsonRequest('POST', AMPLITUDE_ENDPOINTS[s.region], body, { accept: '*/*' });
}
