import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { mapWebhook } from './mapping';
import { WebhookSettings } from './settings';

/** Webhooks: the Segment event, as JSON, to any HTTP endpoint, signed with a shared secret. */
export const webhook = defineDestination({
  id: 'webhook',
  name: 'Webhooks',
  description: 'Sends each event as JSON to your own HTTP endpoint, signed like Segment webhooks.',
  consentCategories: [],
  settings: WebhookSettings,
  secrets: ['sharedSecret', 'headers'],
  supportedTypes: EVENT_TYPES,
  batchSize: (s) => s.batchSize,
  maxBatchBytes: 450 * 1024,
  urls: (s) => [s.url],
  map: mapWebhook,
});
