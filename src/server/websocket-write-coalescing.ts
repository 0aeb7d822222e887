import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Frames a WebSocket connection is given within one turn of the event loop go out in one write
 * (one `writev`) instead of one write each.
 *
 * graphql-ws sends one message per subscription event and waits for its write to complete before
 * it takes the next event, so the events of one chat could never share a write. Here the socket is
 * corked at the first frame of a turn and uncorked once everything that can run in that turn has
 * run (a `process.nextTick` runs after the microtasks queued before it); and while the connection's
 * unsent bytes stay under {@link EAGER_BELOW_BYTES}, a frame counts as sent at once, so the next event
 * can join the same write. Past that, a frame's callback waits for its write as before: a client that
 * reads slowly still holds graphql-ws back, so buffering stays bounded.
 */

/** Unsent bytes on a connection below which frames are acknowledged before their write completes. */
export const EAGER_BELOW_BYTES = 64 * 1024;

type SendCallback = (error?: Error) => void;

export function coalesceWebSocketWrites(server: WebSocketServer): void {
  server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // The TCP socket of the upgrade is the one ws writes its frames to.
    const tcp = request.socket;
    const send = socket.send.bind(socket) as (data: unknown, options: object, callback?: SendCallback) => void;
    let corked = false;
    const uncork = (): void => {
      corked = false;
      tcp.uncork();
    };
    socket.send = function coalescedSend(data: unknown, optionsOrCallback?: object | SendCallback, callback?: SendCallback) {
      const options = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {});
      const done = typeof optionsOrCallback === 'function' ? (optionsOrCallback as SendCallback) : callback;
      if (!corked && !tcp.destroyed) {
        corked = true;
        tcp.cork();
        process.nextTick(uncork);
      }
      if (done === undefined || socket.bufferedAmount >= EAGER_BELOW_BYTES) return send(data, options, done);
      // A write that fails also closes the socket, which graphql-ws hears about on its own.
      send(data, options);
      queueMicrotask(() => done());
    } as WebSocket['send'];
  });
}
