import { EVENT_TYPES } from '../../ingest/spec';
import { defineDestination } from '../types';
import { mapSlack } from './mapping';
import { SlackSettings } from './settings';

/** Slack: a message per event through an incoming webhook, written from a template. */
export const slack = defineDestination({
  id: 'slack',
  name: 'Slack',
  description: 'Posts a message to a channel for the events you choose, from templates.',
  consentCategories: [],
  settings: SlackSettings,
  // The webhook URL is the credential: whoever has it can post.
  secrets: ['webhookUrl'],
  supportedTypes: EVENT_TYPES,
  batchSize: 1,
  urls: (s) => [s.webhookUrl],
  map: mapSlack,
});
