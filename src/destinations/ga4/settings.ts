import { z } from 'zod';

export const GA4_HOSTS = {
  global: 'https://www.google-analytics.com',
  EU: 'https://region1.google-analytics.com',
} as const;

export const Ga4Settings = z.object({
  measurementId: z
    .string()
    .regex(/^G-[A-Z0-9]+$/, 'must look like G-XXXXXXX')
    .describe('Measurement ID of the web data stream (Admin → Data streams)'),
  apiSecret: z.string().min(1).describe('Measurement Protocol API secret of the stream'),
  region: z.enum(['global', 'EU']).default('global').describe('EU collects through region1.google-analytics.com'),
});
export type Ga4Settings = z.infer<typeof Ga4Settings>;
