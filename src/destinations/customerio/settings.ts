import { z } from 'zod';

export const CUSTOMERIO_HOSTS = { US: 'https://track.customer.io', EU: 'https://track-eu.customer.io' } as const;

export const CustomerioSettings = z.object({
  siteId: z.string().min(1).describe('Site ID of the workspace (Settings → API credentials)'),
  apiKey: z.string().min(1).describe('Tracking API key paired with the site ID'),
  region: z.enum(['US', 'EU']).default('US').describe('Data center of the account'),
  objectTypeId: z.string().min(1).default('1').describe('Object type that group() calls create or update'),
});
export type CustomerioSettings = z.infer<typeof CustomerioSettings>;
