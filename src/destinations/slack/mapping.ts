import type { EnrichedEvent } from '../../ingest/spec';
import { valueAtPath } from '../../lib/json';
import { compact, jsonRequest } from '../common';
import type { RequestDescription } from '../types';
import type { SlackSettings } from './settings';

/** Slack's three control characters, escaped as its message formatting requires. */
const escapeSlack = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Replaces `{{dot.path}}` with the value at that path in the event (missing → empty). */
export function render(template: string, event: EnrichedEvent): string {
  return template.replace(/\{\{\s*([\w$.-]+)\s*\}\}/g, (_, path: string) => {
    const v = valueAtPath(event, path);
    if (v === undefined || v === null) return '';
    return escapeSlack(typeof v === 'string' ? v : JSON.stringify(v));
  });
}

/** The template an event is posted with, if any. */
export function templateFor(e: EnrichedEvent, s: SlackSettings): string | undefined {
  const key = e.type === 'track' ? e.event : e.type;
  return s.templates[key] ?? (s.defaultTemplate || undefined);
}

/** One event → one incoming-webhook message `{ text, channel?, username?, icon_emoji? }`. */
export function mapSlack(events: EnrichedEvent[], s: SlackSettings): RequestDescription | null {
  const e = events[0];
  const template = templateFor(e, s);
  if (!template) return null;
  const body = compact({
    text: render(template, e),
    channel: s.channel,
    username: s.username,
    icon_emoji: s.iconEmoji,
  });
  return jsonRequest('POST', s.webhookUrl, body);
}
