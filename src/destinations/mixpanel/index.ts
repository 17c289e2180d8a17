import { defineDestination } from '../types';
import { mixpanelDeletion } from './delete';
import { mapMixpanel, mixpanelBodyError, mixpanelEndpoint } from './mapping';
import { MixpanelSettings } from './settings';

/** Mixpanel: events to /import, identify to /engage profiles, group to /groups, alias as $merge. */
export const mixpanel = defineDestination({
  id: 'mixpanel',
  name: 'Mixpanel',
  description: 'Product analytics: events, user profiles and group profiles.',
  consentCategories: ['Analytics'],
  settings: MixpanelSettings,
  secrets: ['apiSecret', 'gdprToken'],
  supportedTypes: ['track', 'page', 'screen', 'identify', 'group', 'alias'],
  // /import, /engage and /groups take up to 2000 records; a queue batch holds at most 100.
  batchSize: 100,
  maxBatchBytes: 1024 * 1024,
  batchKey: mixpanelEndpoint,
  map: mapMixpanel,
  bodyError: mixpanelBodyError,
  deleteUser: mixpanelDeletion,
});
