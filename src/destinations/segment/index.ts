import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { mapSegment } from './mapping';
import { SegmentSettings } from './settings';

/** Segment-compatible relay: forwards events to any Tracking API (`/v1/batch`, Basic auth). */
export const segment = defineDestination({
  id: 'segment',
  name: 'Segment Relay',
  description: 'Forwards events to any Segment-compatible Tracking API: Segment, RudderStack, another Tessera.',
  consentCategories: [],
  settings: SegmentSettings,
  secrets: ['writeKey'],
  supportedTypes: EVENT_TYPES,
  batchSize: 100,
  // Segment caps a batch request at 500 KB.
  maxBatchBytes: 450 * 1024,
  urls: (s) => [s.endpoint],
  map: mapSegment,
});
