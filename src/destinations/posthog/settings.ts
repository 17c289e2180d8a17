import { z } from 'zod';

export const PosthogSettings = z.object({
  apiKey: z.string().min(1).describe('Project API key (phc_…), from Project Settings'),
  host: z
    .url({ protocol: /^https?$/ })
    .default('https://us.i.posthog.com')
    .describe('Ingestion host: https://us.i.posthog.com, https://eu.i.posthog.com or your own instance'),
  personalApiKey: z
    .string()
    .min(1)
    .optional()
    .describe('Personal API key with person:write: lets regulations delete persons and their events'),
  projectId: z.string().min(1).optional().describe('Project id (in the project URL), needed with the personal API key'),
  groupType: z.string().min(1).default('company').describe('Group type that group() calls identify'),
});
export type PosthogSettings = z.infer<typeof PosthogSettings>;
