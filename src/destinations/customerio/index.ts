import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { customerioDeletion } from './delete';
import { mapCustomerio } from './mapping';
import { CustomerioSettings } from './settings';

/** Customer.io Track API: people, their events and page views, objects (group) and merges (alias). */
export const customerio = defineDestination({
  id: 'customerio',
  name: 'Customer.io',
  description: 'Messaging automation: people, events, objects and merges through the Track API.',
  consentCategories: ['Marketing'],
  settings: CustomerioSettings,
  secrets: ['apiKey'],
  supportedTypes: EVENT_TYPES,
  batchSize: 1,
  map: mapCustomerio,
  deleteUser: customerioDeletion,
});
