import { describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../../ingest/spec';
import { bodyOf, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { slack } from './index';
import { render } from './mapping';

const settings = {
  webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX',
  channel: '#sales',
  username: 'Tessera',
  iconEmoji: ':tada:',
  templates: {
    'Order Completed':
      ':moneybag: {{userId}} ordered {{properties.order_id}} for {{properties.revenue}} {{properties.currency}}',
    identify: 'New user {{traits.email}} on the {{traits.plan}} plan',
  },
  defaultTemplate: '{{type}} from {{userId}}',
};

describe('slack destination (incoming webhook)', () => {
  snapshotEachCallType(slack, settings);

  it('renders the event template into {text, channel, username, icon_emoji}', async () => {
    const req = await mapWith(slack, settings, [EVENTS.track]);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe(settings.webhookUrl);
    expect(bodyOf(req)).toEqual({
      text: ':moneybag: user-42 ordered o-1001 for 42.5 EUR',
      channel: '#sales',
      username: 'Tessera',
      icon_emoji: ':tada:',
    });
    expect(bodyOf<{ text: string }>(await mapWith(slack, settings, [EVENTS.identify])).text).toBe(
      'New user ada@example.com on the pro plan',
    );
  });

  it('posts nothing for events without a template when there is no default', async () => {
    const noDefault = { ...settings, defaultTemplate: undefined };
    expect(await mapWith(slack, noDefault, [EVENTS.page])).toBeNull();
  });

  it("escapes Slack's control characters and leaves missing fields empty", () => {
    const e = { ...EVENTS.track, properties: { note: '<@here> & friends' } } as EnrichedEvent;
    expect(render('{{properties.note}}|{{properties.missing}}|', e)).toBe('&lt;@here&gt; &amp; friends||');
  });
});
