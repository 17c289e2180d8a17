import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { brazeDeletion } from './delete';
import { brazeEndpoint, mapBraze } from './mapping';
import { BrazeSettings } from './settings';

/** Braze: attributes, custom events and purchases via `/users/track`; alias via `/users/identify`. */
export const braze = defineDestination({
  id: 'braze',
  name: 'Braze',
  description: 'Customer engagement: user attributes, custom events and purchases.',
  consentCategories: ['Marketing'],
  settings: BrazeSettings,
  secrets: ['apiKey'],
  supportedTypes: EVENT_TYPES,
  // /users/track takes 75 attributes, 75 events and 75 purchases per request; products can
  // expand one event into several purchases, so stay well under.
  batchSize: 50,
  maxBatchBytes: 1024 * 1024,
  batchKey: brazeEndpoint,
  urls: (s) => [s.restEndpoint],
  map: mapBraze,
  deleteUser: brazeDeletion,
});
