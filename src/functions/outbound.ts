import { WorkerEntrypoint } from 'cloudflare:workers';
import { deliveryConfig } from '../delivery/config';
import { resolvedProblem } from '../delivery/resolve';
import { describeUrlProblem, urlProblem } from '../delivery/ssrf';

/** What the loader hands a destination function's isolate as its only way out. */
export interface OutboundProps {
  /** Test runs (`POST /api/functions/:id/test`) have no side effects: requests are answered here. */
  dryRun: boolean;
}

/**
 * The `globalOutbound` of destination functions: every `fetch` the sandbox makes arrives here and
 * is checked by the same SSRF guard as webhook destinations (names, literals, DNS over HTTPS in
 * production), sent without following redirects and cut after the delivery timeout.
 */
export class FunctionOutbound extends WorkerEntrypoint<Cloudflare.Env, OutboundProps> {
  override async fetch(request: Request): Promise<Response> {
    const config = deliveryConfig(this.env);
    const problem =
      urlProblem(request.url, { allowLoopback: config.allowLoopback }) ??
      (config.allowLoopback ? undefined : await resolvedProblem(request.url, { allowLoopback: false }));
    if (problem) throw new Error(describeUrlProblem(request.url, problem));
    if (this.ctx.props?.dryRun) {
      return Response.json({ tessera: 'test run: the request was recorded, not sent' }, { status: 200 });
    }
    return fetch(request, { redirect: 'manual', signal: AbortSignal.timeout(config.timeoutMs) });
  }
}
