import { defineDestination } from '../types';
import { ga4ClientId, mapGa4 } from './mapping';
import { Ga4Settings } from './settings';

/** Google Analytics 4 through the Measurement Protocol. */
export const ga4 = defineDestination({
  id: 'ga4',
  name: 'Google Analytics 4',
  description: 'Sends track, page and screen events through the GA4 Measurement Protocol.',
  consentCategories: ['Analytics'],
  settings: Ga4Settings,
  secrets: ['apiSecret'],
  supportedTypes: ['track', 'page', 'screen'],
  // One request carries up to 25 events, all of one client.
  batchSize: 25,
  maxBatchBytes: 120 * 1024,
  batchKey: (e) => `${ga4ClientId(e)}\u0000${e.userId ?? ''}`,
  map: mapGa4,
});
