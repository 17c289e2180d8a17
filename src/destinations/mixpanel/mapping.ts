import type { EnrichedEvent } from '../../ingest/spec';
import type { JsonObject } from '../../lib/json';
import { basicAuth, compact, contextString, epochMs, eventName, jsonRequest, propertiesOf, traitsOf } from '../common';
import { PermanentError } from '../errors';
import type { RequestDescription, VendorAnswer } from '../types';
import { MIXPANEL_HOSTS, type MixpanelSettings } from './settings';

/** Which Mixpanel endpoint an event goes to; events sharing one may share a request. */
export function mixpanelEndpoint(e: EnrichedEvent): 'import' | 'engage' | 'groups' {
  if (e.type === 'identify') return 'engage';
  if (e.type === 'group') return 'groups';
  return 'import';
}

const RESERVED_TRAITS: Record<string, string> = {
  email: '$email',
  name: '$name',
  firstName: '$first_name',
  lastName: '$last_name',
  phone: '$phone',
  avatar: '$avatar',
  createdAt: '$created',
};

/** Segment traits → Mixpanel profile properties (reserved ones get their `$` names). */
function profileSet(traits: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(traits)) out[RESERVED_TRAITS[k] ?? k] = v;
  return out;
}

/** One track/page/screen event in the /import format (time in ms, `$insert_id` = messageId). */
function importEvent(e: EnrichedEvent, s: MixpanelSettings): JsonObject {
  const campaign = (e.context.campaign ?? {}) as JsonObject;
  return {
    event: eventName(e),
    properties: compact({
      token: s.projectToken,
      time: epochMs(e),
      distinct_id: String(e.userId ?? e.anonymousId),
      $insert_id: e.messageId,
      $user_id: e.userId,
      $device_id: e.anonymousId,
      ip: contextString(e, 'ip'),
      $current_url: contextString(e, 'page.url'),
      $referrer: contextString(e, 'page.referrer'),
      $os: contextString(e, 'os.name'),
      $app_version_string: contextString(e, 'app.version'),
      utm_source: campaign.source,
      utm_medium: campaign.medium,
      utm_campaign: campaign.name,
      utm_term: campaign.term,
      utm_content: campaign.content,
      mp_lib: 'tessera',
      ...propertiesOf(e),
    }),
  };
}

/** alias(previousId → userId) as Mixpanel's `$merge` event (needs the API secret). */
function mergeEvent(e: EnrichedEvent, s: MixpanelSettings): JsonObject {
  if (!s.apiSecret) throw new PermanentError('Mixpanel alias ($merge) needs the API secret in the settings');
  const previousId = (e as { previousId?: string }).previousId;
  return {
    event: '$merge',
    properties: { $distinct_ids: [String(e.userId), String(previousId)], token: s.projectToken },
  };
}

/** Events of one endpoint → one Mixpanel request: /import, /engage (profiles) or /groups. */
export function mapMixpanel(events: EnrichedEvent[], s: MixpanelSettings): RequestDescription | null {
  const host = MIXPANEL_HOSTS[s.region];
  const kind = mixpanelEndpoint(events[0]);
  if (kind === 'engage') {
    const body = events.map((e) =>
      compact({
        $token: s.projectToken,
        $distinct_id: String(e.userId ?? e.anonymousId),
        $ip: contextString(e, 'ip') ?? '0',
        $set: profileSet(traitsOf(e)),
      }),
    );
    return jsonRequest('POST', `${host}/engage?verbose=1`, body);
  }
  if (kind === 'groups') {
    const body = events.map((e) => ({
      $token: s.projectToken,
      $group_key: s.groupKey,
      $group_id: String((e as { groupId?: string }).groupId),
      $set: traitsOf(e),
    }));
    return jsonRequest('POST', `${host}/groups?verbose=1`, body);
  }
  const body = events.map((e) => (e.type === 'alias' ? mergeEvent(e, s) : importEvent(e, s)));
  return jsonRequest('POST', `${host}/import?strict=1`, body, {
    authorization: basicAuth(s.apiSecret ?? s.projectToken),
  });
}

/** /engage and /groups answer 200 with `{"status":0,"error":…}` when they reject an update. */
export function mixpanelBodyError(answer: VendorAnswer): string | undefined {
  try {
    const parsed = JSON.parse(answer.body) as { status?: unknown; error?: unknown };
    if (parsed.status === 0) return String(parsed.error ?? 'Mixpanel rejected the update');
  } catch {}
  return undefined;
}
