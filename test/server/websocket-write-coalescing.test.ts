import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { coalesceWebSocketWrites, EAGER_BELOW_BYTES } from '../../src/server/websocket-write-coalescing.js';

/** A real ws server with coalescing on, and a real client; the server side's TCP writes are counted. */
async function connect() {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  coalesceWebSocketWrites(wss);
  const serverSide = new Promise<{ socket: WebSocket; tcp: Socket; writes: () => number }>((resolve) => {
    wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      const tcp = request.socket;
      let writes = 0;
      // Count what reaches the socket's write implementation: one call per flushed write (or writev).
      const tcpWithWrites = tcp as unknown as { _writev: (...args: unknown[]) => unknown; _write: (...args: unknown[]) => unknown };
      const writev = tcpWithWrites._writev.bind(tcp);
      const write = tcpWithWrites._write.bind(tcp);
      tcpWithWrites._writev = (...args) => {
        writes += 1;
        return writev(...args);
      };
      tcpWithWrites._write = (...args) => {
        writes += 1;
        return write(...args);
      };
      resolve({ socket, tcp, writes: () => writes });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  const server = await serverSide;
  cleanups.push(async () => {
    client.terminate();
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { ...server, client, received };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('coalesceWebSocketWrites', () => {
  it('sends the frames given in one turn in one write, in order, and acknowledges each', async () => {
    const { socket, writes, received } = await connect();
    const before = writes();
    const acknowledged: number[] = [];
    for (let i = 0; i < 10; i++) socket.send(`message ${i}`, (error) => (error ? undefined : acknowledged.push(i)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes() - before).toBe(1);
    expect(acknowledged).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(10);
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i}`));
  });

  it('lets a sender that waits for each acknowledgement put a whole burst in one write', async () => {
    const { socket, writes, received } = await connect();
    const before = writes();
    // What graphql-ws does: the next event only after the previous send resolved.
    const sendAll = async () => {
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve, reject) => socket.send(`event ${i}`, (e) => (e ? reject(e) : resolve())));
    };
    await sendAll();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes() - before).toBe(1);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(5);
  });

  it('frames of different turns go out in separate writes, none held back', async () => {
    const { socket, writes, received } = await connect();
    const before = writes();
    socket.send('first');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes() - before).toBe(1);
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(['first']);
    socket.send('second');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes() - before).toBe(2);
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(['first', 'second']);
  });

  it('keeps backpressure: past the eager limit, a frame is acknowledged only once its write completes', async () => {
    const { socket, client, tcp } = await connect();
    // The client stops reading: the kernel buffers fill, then the server's socket buffers.
    const clientTcp = (client as unknown as { _socket: Socket })._socket;
    clientTcp.pause();
    const big = 'x'.repeat(1024 * 1024);
    while (tcp.writableLength < 4 * EAGER_BELOW_BYTES) {
      socket.send(big);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.bufferedAmount).toBeGreaterThanOrEqual(EAGER_BELOW_BYTES);
    let acknowledged = false;
    socket.send('small', () => (acknowledged = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acknowledged).toBe(false);
    clientTcp.resume();
    await expect.poll(() => acknowledged, { timeout: 10_000 }).toBe(true);
  });
});
