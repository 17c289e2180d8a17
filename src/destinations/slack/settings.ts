import { z } from 'zod';

export const SlackSettings = z.object({
  webhookUrl: z
    .url({ protocol: /^https?$/ })
    .describe('Incoming webhook URL from your Slack app (https://hooks.slack.com/services/…)'),
  channel: z.string().optional().describe("Overrides the webhook's default channel, e.g. #signups"),
  username: z.string().optional().describe('Name the messages are posted under'),
  iconEmoji: z.string().optional().describe("Emoji shown as the poster's icon, e.g. :tada:"),
  templates: z
    .record(z.string(), z.string().min(1).max(3000))
    .default({})
    .describe(
      'Message per event name (track) or per type (identify, page, screen, group, alias). ' +
        'Placeholders are dot paths into the event: {{userId}}, {{properties.plan}}, {{traits.email}}',
    ),
  defaultTemplate: z
    .string()
    .max(3000)
    .optional()
    .describe('Message for events without their own template; empty means those events are not posted'),
});
export type SlackSettings = z.infer<typeof SlackSettings>;
