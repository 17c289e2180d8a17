import { defineDestination } from '../types';
import { amplitudeDeletion } from './delete';
import { mapAmplitude } from './mapping';
import { AmplitudeSettings } from './settings';

/** Amplitude (HTTP V2 API). alias has no equivalent there (user mapping is a Portfolio feature). */
export const amplitude = defineDestination({
  id: 'amplitude',
  name: 'Amplitude',
  description: 'Product analytics through the HTTP V2 API: events, user properties and groups.',
  consentCategories: ['Analytics'],
  settings: AmplitudeSettings,
  secrets: ['apiKey', 'secretKey'],
  supportedTypes: ['track', 'page', 'screen', 'identify', 'group'],
  // HTTP V2 takes up to 2000 events and 1 MB per request.
  batchSize: 100,
  maxBatchBytes: 900 * 1024,
  map: mapAmplitude,
  deleteUser: amplitudeDeletion,
});
