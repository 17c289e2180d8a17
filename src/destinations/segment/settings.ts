import { z } from 'zod';

export const SegmentSettings = z.object({
  endpoint: z
    .url({ protocol: /^https?$/ })
    .default('https://api.segment.io')
    .describe('Base URL of a Tracking API: Segment (https://api.segment.io), RudderStack, or another Tessera'),
  writeKey: z.string().min(1).describe('Write key of the receiving source (sent as Basic auth, like Segment SDKs)'),
});
export type SegmentSettings = z.infer<typeof SegmentSettings>;
