import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { posthogDeletion } from './delete';
import { mapPosthog } from './mapping';
import { PosthogSettings } from './settings';

/** PostHog: events, `$identify`, `$groupidentify`, `$create_alias` through `/batch/`. */
export const posthog = defineDestination({
  id: 'posthog',
  name: 'PostHog',
  description: 'Product analytics, cloud or self-hosted, through the capture batch endpoint.',
  consentCategories: ['Analytics'],
  settings: PosthogSettings,
  secrets: ['personalApiKey'],
  supportedTypes: EVENT_TYPES,
  batchSize: 100,
  // PostHog accepts request bodies up to 20 MB; keep requests small and quick.
  maxBatchBytes: 1024 * 1024,
  urls: (s) => [s.host],
  map: mapPosthog,
  deleteUser: posthogDeletion,
});
