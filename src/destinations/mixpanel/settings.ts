import { z } from 'zod';

export const MIXPANEL_HOSTS = {
  US: 'https://api.mixpanel.com',
  EU: 'https://api-eu.mixpanel.com',
  IN: 'https://api-in.mixpanel.com',
} as const;

export const MixpanelSettings = z.object({
  projectToken: z.string().min(1).describe('Project token (Project Settings → Access Keys)'),
  apiSecret: z
    .string()
    .min(1)
    .optional()
    .describe('Project API secret for /import Basic auth; without it the project token authenticates'),
  gdprToken: z
    .string()
    .min(1)
    .optional()
    .describe('OAuth token for the GDPR API: regulations delete the data of a user; without it only the profile'),
  region: z.enum(['US', 'EU', 'IN']).default('US').describe('Data residency of the project'),
  groupKey: z
    .string()
    .min(1)
    .default('company')
    .describe('Group key that group() calls update (Mixpanel Group Analytics)'),
});
export type MixpanelSettings = z.infer<typeof MixpanelSettings>;
