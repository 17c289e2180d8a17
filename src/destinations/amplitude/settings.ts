import { z } from 'zod';

export const AMPLITUDE_ENDPOINTS = {
  US: 'https://api2.amplitude.com/2/httpapi',
  EU: 'https://api.eu.amplitude.com/2/httpapi',
} as const;

export const AmplitudeSettings = z.object({
  apiKey: z.string().min(1).describe('Project API key (Settings → Projects → General)'),
  region: z.enum(['US', 'EU']).default('US').describe('Data residency of the project'),
  groupType: z.string().min(1).default('company').describe('Group type that group() calls assign and describe'),
  secretKey: z
    .string()
    .min(1)
    .optional()
    .describe('Project secret key: lets regulations delete users through the User Privacy API'),
  minIdLength: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Overrides Amplitude's 5-character minimum for user_id and device_id"),
});
export type AmplitudeSettings = z.infer<typeof AmplitudeSettings>;
