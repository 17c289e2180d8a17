import type { EnrichedEvent } from '../../ingest/spec';
import { basicAuth, joinUrl, jsonRequest } from '../common';
import type { MapContext, RequestDescription } from '../types';
import type { SegmentSettings } from './settings';

/**
 * Events → one `/v1/batch` call, unchanged: the receiving Tracking API keeps `messageId` (so it
 * dedupes a retried batch), the original timestamps and the `integrations` object.
 */
export function mapSegment(events: EnrichedEvent[], settings: SegmentSettings, ctx: MapContext): RequestDescription {
  return jsonRequest(
    'POST',
    joinUrl(settings.endpoint, '/v1/batch'),
    { batch: events, sentAt: ctx.now.toISOString() },
    { authorization: basicAuth(settings.writeKey) },
  );
}
