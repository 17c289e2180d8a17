import { z } from 'zod';

export const WebhookSettings = z.object({
  url: z.url({ protocol: /^https?$/ }).describe('Endpoint that receives each event as JSON'),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST').describe('HTTP method of the request'),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name'), z.string().max(2000))
    .default({})
    .describe('Extra headers sent with every request (values are kept secret)'),
  sharedSecret: z
    .string()
    .min(8)
    .optional()
    .describe('Signs each body: X-Signature (HMAC-SHA1, as Segment) and X-Tessera-Signature (timestamped SHA-256)'),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(1)
    .describe('1 sends one event per request (Segment format); more sends a JSON array of events'),
});
export type WebhookSettings = z.infer<typeof WebhookSettings>;
