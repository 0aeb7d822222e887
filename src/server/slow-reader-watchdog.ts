import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Cuts clients that stop reading. Every connection of the server is one TCP socket (an SSE or
 * multipart response, or a WebSocket after its upgrade), and what the process has not yet handed
 * to the kernel waits in that socket's write buffer. A connection whose buffer holds more than
 * `maxWriteBufferBytes` and drained nothing since the last look (a quarter of the timeout, at most
 * 1 s), or holds anything and has drained nothing for `slowReaderTimeoutMs`, is destroyed: the request or WebSocket closes, which returns its subscription and aborts its model
 * call. Without this, a reader that stopped held its socket, its stream and its upstream call for
 * as long as it liked (graphql-ws and yoga wait for writes to drain), past every upstream timeout.
 */

export interface SlowReaderOptions {
  readonly maxWriteBufferBytes: number;
  readonly slowReaderTimeoutMs: number;
  readonly onCut: (details: { readonly reason: 'buffer' | 'stalled'; readonly bufferedBytes: number; readonly remoteAddress: string | undefined }) => void;
}

interface Watched {
  /** Bytes the kernel has taken so far. */
  flushed: number;
  /** When the buffer was first seen holding bytes without draining; null while it drains. */
  stalledSince: number | null;
}

export function watchSlowReaders(server: Server, options: SlowReaderOptions): { stop(): void } {
  const sockets = new Map<Socket, Watched>();
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { flushed: 0, stalledSince: null });
    socket.once('close', () => sockets.delete(socket));
  });

  const cut = (socket: Socket, reason: 'buffer' | 'stalled') => {
    options.onCut({ reason, bufferedBytes: socket.writableLength, remoteAddress: socket.remoteAddress });
    sockets.delete(socket);
    socket.destroy();
  };

  const sweep = () => {
    const now = performance.now();
    for (const [socket, watched] of sockets) {
      const buffered = socket.writableLength;
      // bytesWritten counts what was written, buffered bytes included.
      const flushed = socket.bytesWritten - buffered;
      const draining = flushed !== watched.flushed;
      // Past the bound and not draining since the last look: it will not catch up.
      if (buffered > options.maxWriteBufferBytes && !draining) {
        cut(socket, 'buffer');
        continue;
      }
      if (buffered === 0 || draining) watched.stalledSince = null;
      else if (watched.stalledSince === null) watched.stalledSince = now;
      else if (now - watched.stalledSince >= options.slowReaderTimeoutMs) {
        cut(socket, 'stalled');
        continue;
      }
      watched.flushed = flushed;
    }
  };
  // A stall is seen within a quarter of the timeout of its start.
  const timer = setInterval(sweep, Math.max(50, Math.min(1_000, options.slowReaderTimeoutMs / 4)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
