import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainGrace, drainFinishedBody, type ResponseBody } from '../../src/models/http-client.js';
import type { StreamTimers } from '../../src/streaming/stream-timers.js';

/**
 * What is left of a body once its end marker was read: read to the end, so its keep-alive socket
 * serves the next request, or, from a server that keeps it open, dropped after the grace. The
 * grace runs on a deadline queue every drain shares, driven here by a clock of the test's own.
 */

/** A clock and timers moved by hand: `advance` runs the timers that fall due. */
function manualTimers(): StreamTimers & { advance(ms: number): void; readonly pending: number } {
  let now = 0;
  let next = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout(callback, ms) {
      timers.set(++next, { at: now + ms, callback });
      return next;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      now += ms;
      for (const [handle, timer] of [...timers]) {
        if (timer.at > now) continue;
        timers.delete(handle);
        timer.callback();
      }
    },
    get pending() {
      return timers.size;
    },
  };
}

interface Upstream {
  readonly url: string;
  /** Connections the server accepted. */
  readonly sockets: Socket[];
  /** Responses held open, to end by hand. */
  readonly held: ServerResponse[];
  readonly server: Server;
}

/**
 * Answers each request with an end marker at once; `rest` is what it does with the response after
 * that: end it later, or hold it open.
 */
async function startUpstream(rest: (res: ServerResponse, req: IncomingMessage) => void): Promise<Upstream> {
  const sockets: Socket[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: [DONE]\n\n');
    held.push(res);
    rest(res, req);
  });
  server.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets, held, server };
}

/** Reads the response's first bytes (its end marker), as the SSE backend does, and leaves the rest. */
async function openToMarker(agent: Agent, url: string): Promise<ResponseBody> {
  const response = await agent.request({ origin: url, path: '/', method: 'POST', body: '{}' });
  const body = response.body;
  const iterator = body.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  const first = await iterator.next();
  expect(Buffer.from(first.value as Uint8Array).toString()).toContain('[DONE]');
  await iterator.return?.();
  return body;
}

describe('drainFinishedBody', () => {
  const cleanUps: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
  });
  const start = async (rest: (res: ServerResponse, req: IncomingMessage) => void) => {
    const upstream = await startUpstream(rest);
    const agent = new Agent();
    cleanUps.push(async () => {
      for (const res of upstream.held) res.destroy();
      await agent.close();
      await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    });
    return { upstream, agent };
  };

  it('reads a body whose end comes after the marker to its end, and its connection serves the next request', async () => {
    const { upstream, agent } = await start((res) => setImmediate(() => res.end('data: after the marker\n\n')));
    const grace = createDrainGrace(manualTimers());
    const body = await openToMarker(agent, upstream.url);
    await drainFinishedBody(body, grace);
    expect(body.closed).toBe(true);
    expect(grace.deadlines.size).toBe(0);
    expect(upstream.sockets[0]!.destroyed).toBe(false);

    // undici puts the socket back in the pool a turn after the body ends.
    await new Promise((resolve) => setImmediate(resolve));
    await drainFinishedBody(await openToMarker(agent, upstream.url), grace);
    expect(upstream.sockets).toHaveLength(1);
    expect(upstream.sockets[0]!.destroyed).toBe(false);
  });

  it('drops the body of a server that keeps it open past the marker once the grace is over, and only then', async () => {
    const { upstream, agent } = await start(() => {});
    const timers = manualTimers();
    const grace = createDrainGrace(timers);
    const body = await openToMarker(agent, upstream.url);
    let drained = false;
    const drain = drainFinishedBody(body, grace).then(() => (drained = true));
    expect(grace.deadlines.size).toBe(1);
    expect(timers.pending).toBe(1);

    timers.advance(999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    expect(body.destroyed).toBe(false);

    timers.advance(1);
    await drain;
    expect(body.destroyed).toBe(true);
    expect(grace.deadlines.size).toBe(0);
    expect(timers.pending).toBe(0);
    // The connection is not reused: the server sees it close.
    const socket = upstream.sockets[0]!;
    if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
  });

  it('shares one timer between the drains in flight', async () => {
    const { upstream, agent } = await start(() => {});
    const timers = manualTimers();
    const grace = createDrainGrace(timers);
    const bodies = [await openToMarker(agent, upstream.url), await openToMarker(agent, upstream.url), await openToMarker(agent, upstream.url)];
    const drains = bodies.map((body) => drainFinishedBody(body, grace));
    expect(grace.deadlines.size).toBe(3);
    expect(timers.pending).toBe(1);

    // One server ends its response: that drain ends, the others wait for the grace.
    upstream.held[1]!.end();
    await drains[1];
    expect(grace.deadlines.size).toBe(2);
    expect(bodies[0]!.destroyed).toBe(false);

    timers.advance(1_000);
    await Promise.all(drains);
    expect(bodies[0]!.destroyed && bodies[2]!.destroyed).toBe(true);
    expect(timers.pending).toBe(0);
  });

  it('an already closed body is drained at once, without a deadline', async () => {
    const { upstream, agent } = await start((res) => res.end());
    const grace = createDrainGrace(manualTimers());
    const body = await openToMarker(agent, upstream.url);
    // Destroyed unread: undici reports it as an error, which nobody reads here.
    body.on('error', () => {}).destroy();
    await new Promise((resolve) => body.once('close', resolve));
    await drainFinishedBody(body, grace);
    expect(grace.deadlines.size).toBe(0);
  });
});
