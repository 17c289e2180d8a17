import type { EnrichedEvent } from '../../ingest/spec';
import { USER_AGENT } from '../common';
import type { MapContext, RequestDescription } from '../types';
import type { WebhookSettings } from './settings';
import { signatureHeaders } from './sign';

/** One event → its JSON as the body (an array when batching), signed when a secret is set. */
export async function mapWebhook(
  events: EnrichedEvent[],
  settings: WebhookSettings,
  ctx: MapContext,
): Promise<RequestDescription> {
  const body = JSON.stringify(settings.batchSize > 1 ? events : events[0]);
  const headers: Record<string, string> = {
    ...settings.headers,
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
  };
  if (settings.sharedSecret) Object.assign(headers, signatureHeaders(settings.sharedSecret, body, ctx.now));
  return { method: settings.method, url: settings.url, headers, body };
}
