// The live debugger's push side: browsers hold a WebSocket on the source's LiveTap object, which
// accepts it with the hibernation API, so an idle console costs no Durable Object duration; each
// recorded batch is sent to every open socket as one message.
import type { TapEntry } from './live-tap';

/** Most sockets one source's tap keeps open (a few consoles, not a public feed). */
export const MAX_SUBSCRIBERS = 50;

/** Accepts a WebSocket upgrade on `ctx` (hibernatable); answers 426 to anything else. */
export function acceptSubscriber(ctx: DurableObjectState, request: Request): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return Response.json(
      { error: { code: 'upgrade_required', message: 'Open this URL as a WebSocket' } },
      { status: 426 },
    );
  }
  const open = ctx.getWebSockets();
  // The oldest socket gives way, so a console left open in many tabs never locks new ones out.
  if (open.length >= MAX_SUBSCRIBERS) open[0]?.close(1013, 'too many subscribers');
  const { 0: client, 1: server } = new WebSocketPair();
  ctx.acceptWebSocket(server);
  return new Response(null, { status: 101, webSocket: client });
}

/** Sends newly recorded entries (oldest first) to every subscriber; a dead socket is skipped. */
export function broadcast(ctx: DurableObjectState, entries: TapEntry[]): void {
  if (!entries.length) return;
  const sockets = ctx.getWebSockets();
  if (!sockets.length) return;
  const message = JSON.stringify({ entries });
  for (const ws of sockets) {
    try {
      ws.send(message);
    } catch {
      // Closed between listing and sending: the runtime drops it from getWebSockets().
    }
  }
}
