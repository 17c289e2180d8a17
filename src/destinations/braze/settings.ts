import { z } from 'zod';

export const BrazeSettings = z.object({
  apiKey: z.string().min(1).describe('REST API key with users.track and users.identify permissions'),
  restEndpoint: z
    .url({ protocol: /^https$/ })
    .describe('REST endpoint of your Braze instance, e.g. https://rest.iad-01.braze.com'),
  appId: z.string().optional().describe('App identifier sent with events and purchases (optional)'),
});
export type BrazeSettings = z.infer<typeof BrazeSettings>;
