import { env } from 'cloudflare:workers';
import { z } from 'zod';
import { type Ran, recordInvocations } from '../../functions/invocations';
import { handlerFor, type Invocation, invoke } from '../../functions/sandbox';
import { functionsConfig } from '../../functions/store';
import { type DeliveryError, PermanentError, RetryableError } from '../errors';
import { defineDestination } from '../types';

const FunctionSettings = z.object({
  instanceId: z
    .string()
    .min(1)
    .describe('The destination function instance (created by POST /api/functions/:id/instances)'),
});

/** Segment's destination-function errors → what delivery does next. */
export function deliveryErrorOf(inv: Invocation): DeliveryError | undefined {
  const e = inv.error;
  if (!e) return undefined;
  const message = `${e.name}: ${e.message}`;
  // RetryError, a timeout and a sandbox that could not run are retried with backoff, like a 5xx.
  if (e.name === 'RetryError' || e.name === 'SandboxError' || /did not finish within/.test(e.message)) {
    return new RetryableError(message);
  }
  // ValidationError, EventNotSupported and any other error: recorded, not retried.
  return new PermanentError(message);
}

/**
 * A destination function: the customer's `onTrack(event, settings)` … run in its sandbox, whose
 * only way out is `FunctionOutbound` (the webhook SSRF guard). Routing, filters, consent,
 * retries, dead letters and the delivery log are the same as for every destination.
 */
export const functionDestination = defineDestination({
  id: 'function',
  name: 'Destination Function',
  description: 'Your own code (Segment destination function handlers); create it with POST /api/functions',
  consentCategories: [],
  settings: FunctionSettings,
  secrets: [],
  supportedTypes: ['track', 'identify', 'page', 'screen', 'group', 'alias'],
  batchSize: 10,
  map() {
    throw new PermanentError('A destination function delivers by running its code');
  },
  async deliver(events, settings) {
    const instance = (await functionsConfig(env)).byId.get(settings.instanceId);
    if (!instance || instance.fn.kind !== 'destination') {
      return events.map(() => new PermanentError(`Destination function instance ${settings.instanceId} is gone`));
    }
    // One event per call: each gets the full wall time for its requests (the isolate runs them in turn).
    const invs: Invocation[] = [];
    for (const event of events) {
      invs.push(
        await invoke(env, instance.fn, { handler: handlerFor(event.type), arg: event, settings: instance.settings }),
      );
    }
    const ran: Ran[] = invs.map((inv) => ({ instance, inv, status: inv.error ? 'error' : 'ok' }));
    const errors = invs.map(deliveryErrorOf);
    await recordInvocations(env.DB, ran).catch((err) => console.warn('function invocations not recorded', err));
    return errors;
  },
});
