import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/logger.js';
import { batchesOf, type CompletionEvent } from '../../src/models/backend.js';
import { createDrainGrace, type HttpModelBackend } from '../../src/models/http-client.js';
import { createOpenAIBackend } from '../../src/models/openai-backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import type { ReadSink, SinkReadable } from '../../src/read-sink.js';
import { StopController } from '../../src/stop-signal.js';
import type { StreamTimers } from '../../src/streaming/stream-timers.js';
import { collect, openaiConfig } from './helpers.js';

/**
 * The SSE backend reads undici's dispatch callbacks straight into batches: what it must keep of a
 * Readable body's behaviour, against a real HTTP server whose writes the test controls. Its
 * socket is paused for a reader that does not keep up, drained after the end marker so the
 * connection is reused (for at most the grace), and closed at once for a reader that stops or an
 * abort; a batch that is ready is handed over before `readTo` returns.
 */

type Batch = readonly CompletionEvent[];

const tokenEvent = (text: string): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
const endEvents = (completionTokens: number): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: completionTokens } })}\n\n` +
  'data: [DONE]\n\n';

interface Upstream {
  readonly url: string;
  /** Connections accepted, in order. */
  readonly sockets: Socket[];
  readonly server: Server;
}

type Respond = (res: ServerResponse, req: IncomingMessage, index: number) => void;

const servers: Server[] = [];
const backends: HttpModelBackend[] = [];

afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close().catch(() => {})));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Each request is answered by `respond` (its index counts requests from 0). */
async function startUpstream(respond: Respond): Promise<Upstream> {
  const sockets: Socket[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    respond(res, req, requests++);
  });
  server.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, sockets, server };
}

function backendFor(upstream: Upstream, deps: { timers?: StreamTimers } = {}): HttpModelBackend {
  const backend = createOpenAIBackend(openaiConfig(upstream.url), {
    logger: createSilentLogger(),
    drainGrace: deps.timers === undefined ? undefined : createDrainGrace(deps.timers),
  });
  backends.push(backend);
  return backend;
}

const request = (stop = new StopController()) => ({
  messages: [{ role: 'user' as const, content: 'hi' }],
  maxTokens: 64,
  stop,
  signal: new AbortController().signal,
});

/** The backend's own reader of batches, which is also read straight (`readTo`). */
function batchReader(backend: HttpModelBackend, stop?: StopController): AsyncIterator<Batch> & SinkReadable<Batch> {
  const reader = batchesOf(backend.stream(request(stop)))[Symbol.asyncIterator]();
  expect(typeof (reader as Partial<SinkReadable<Batch>>).readTo).toBe('function');
  return reader as AsyncIterator<Batch> & SinkReadable<Batch>;
}

const textOf = (events: readonly CompletionEvent[]): string => events.map((e) => (e.type === 'token' ? e.text : '')).join('');

/** A clock and timers moved by hand: `advance` runs the timers that fall due. */
function manualTimers(): StreamTimers & { advance(ms: number): void } {
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
  };
}

/** Resolves once the server's side of the connection has closed. */
const closed = async (socket: Socket): Promise<void> => {
  if (!socket.destroyed) await once(socket, 'close');
};

/**
 * undici hands a socket back to its pool a full event-loop turn after the response ended, so a
 * request made in the same turn would open a connection of its own.
 */
const turn = () => new Promise((resolve) => setImmediate(resolve));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `res` as fast as the socket takes it, waiting for 'drain' when it pushes back; resolves once all is written. */
async function writeAll(res: ServerResponse, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (!res.write(piece)) await once(res, 'drain');
  }
}

describe('SSE backend on undici dispatch callbacks', () => {
  it('after the end marker the rest of the body is read, so the connection serves the next request', async () => {
    const upstream = await startUpstream((res) => {
      res.write(tokenEvent('a') + endEvents(1));
      // The response's end comes after its end marker.
      setTimeout(() => res.end(': bye\n\n'), 30);
    });
    const backend = backendFor(upstream);
    for (let i = 0; i < 3; i++) {
      const { text, error, events } = await collect(backend.stream(request()));
      expect(error).toBeUndefined();
      expect(text).toBe('a');
      expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
      await turn();
    }
    expect(upstream.sockets).toHaveLength(1);
  });

  it('a server that holds the response open after the end marker loses its socket exactly at the grace, and the stream ends then', async () => {
    const served: Socket[] = [];
    const upstream = await startUpstream((res, req) => {
      served.push(req.socket);
      res.write(tokenEvent('a') + endEvents(1));
    });
    const timers = manualTimers();
    const backend = backendFor(upstream, { timers });
    const reader = batchReader(backend);
    const batches: Batch[] = [];
    let ended = false;
    const read = (async () => {
      for (;;) {
        const result = await reader.next();
        if (result.done) break;
        batches.push(result.value);
      }
      ended = true;
    })();
    while (batches.flat().at(-1)?.type !== 'finish') await sleep(5);
    timers.advance(999);
    await sleep(50);
    expect(ended).toBe(false);
    expect(upstream.sockets[0]!.destroyed).toBe(false);
    timers.advance(1);
    await read;
    expect(textOf(batches.flat())).toBe('a');
    await closed(upstream.sockets[0]!);
    // The next request cannot have the dropped socket; its stream ends at its own grace.
    const nextReader = batchReader(backend);
    const nextBatches: Batch[] = [];
    const nextRead = (async () => {
      for (let result = await nextReader.next(); !result.done; result = await nextReader.next()) nextBatches.push(result.value);
    })();
    while (nextBatches.flat().at(-1)?.type !== 'finish') await sleep(5);
    expect(served[1]).not.toBe(served[0]);
    timers.advance(1_000);
    await nextRead;
    expect(textOf(nextBatches.flat())).toBe('a');
  });

  it('a reader that does not keep up pauses the socket (the server is pushed back); read later, every token arrives in order', async () => {
    // Far more than the loopback socket buffers hold, so a server that is never pushed back would finish writing.
    const count = 6_000;
    const filler = 'x'.repeat(4_000);
    let written = false;
    const upstream = await startUpstream((res) => {
      const pieces = function* () {
        for (let i = 0; i < count; i++) yield tokenEvent(`${i}:${filler}|`);
        yield endEvents(count);
      };
      void writeAll(res, pieces()).then(() => {
        written = true;
        res.end();
      });
    });
    const reader = batchReader(backendFor(upstream));
    const first = await reader.next();
    expect(first.done).toBe(false);
    // Until the server's writes stop moving: a socket that is never paused takes all of them.
    const socket = upstream.sockets[0]!;
    for (let last = -1; socket.bytesWritten !== last; await sleep(200)) last = socket.bytesWritten;
    expect(written).toBe(false);
    expect(socket.bytesWritten).toBeLessThan((count * filler.length) / 2);
    const tokens: string[] = [];
    for (let result = first; !result.done; result = await reader.next()) {
      for (const event of result.value) if (event.type === 'token') tokens.push(event.text);
    }
    expect(written).toBe(true);
    expect(tokens).toHaveLength(count);
    expect(tokens.every((text, i) => text.startsWith(`${i}:`))).toBe(true);
  });

  it('a reader that stops early closes the socket at once: it is not reused', async () => {
    const served: Socket[] = [];
    const upstream = await startUpstream((res, req, index) => {
      served.push(req.socket);
      // The first response never ends; the others are whole.
      if (index === 0) res.write(tokenEvent('a') + tokenEvent('b'));
      else res.end(tokenEvent('c') + endEvents(1));
    });
    const backend = backendFor(upstream);
    const reader = batchReader(backend);
    expect(textOf((await reader.next()).value as Batch)).toBe('ab');
    await reader.return?.();
    await closed(served[0]!);
    // undici also opens a spare connection when a request is aborted and closes it unused (the
    // Readable body did the same); what follows waits for that to settle.
    await sleep(50);
    expect((await collect(backend.stream(request()))).text).toBe('c');
    await sleep(20);
    expect((await collect(backend.stream(request()))).text).toBe('c');
    expect(served[1]).not.toBe(served[0]);
    expect(served[2]).not.toBe(served[0]);
  });

  it('a batch that is ready is handed over before readTo returns', async () => {
    let ended: Promise<unknown> | undefined;
    const upstream = await startUpstream((res) => {
      res.write(tokenEvent('a'));
      setTimeout(() => res.write(tokenEvent('b')), 20);
      setTimeout(() => {
        ended = once(res, 'finish');
        res.end(tokenEvent('c') + endEvents(3));
      }, 40);
    });
    const reader = batchReader(backendFor(upstream));
    expect(textOf((await reader.next()).value as Batch)).toBe('a');
    // 'b' and then the last batch arrive while nobody reads.
    while (ended === undefined) await sleep(5);
    await ended;
    await sleep(100);
    const answered: Batch[] = [];
    const sink: ReadSink<Batch> = {
      onRead: (result) => {
        if (!result.done) answered.push(result.value);
      },
      onReadError: (error) => {
        throw error;
      },
    };
    reader.readTo(sink);
    expect(answered.map(textOf)).toEqual(['b']);
    reader.readTo(sink);
    reader.readTo(sink);
    expect(answered.map(textOf)).toEqual(['b', 'c', '']);
    expect(answered[2]!.map((event) => event.type)).toEqual(['usage', 'finish']);
  });

  it('an abort while a batch is buffered: the next read rejects at once with its reason, not the batch, and the socket closes', async () => {
    const upstream = await startUpstream((res) => {
      res.write(tokenEvent('a'));
      // The response then stays open.
      setTimeout(() => res.write(tokenEvent('b')), 20);
    });
    const stop = new StopController();
    const reader = batchReader(backendFor(upstream), stop);
    expect(textOf((await reader.next()).value as Batch)).toBe('a');
    await sleep(100);
    stop.abort(new Error('client left'));
    await expect(reader.next()).rejects.toThrow('client left');
    await closed(upstream.sockets[0]!);
  });

  it('a stall after a burst: every token of the burst, then a final UPSTREAM_IDLE_TIMEOUT, and the socket closes', async () => {
    const burst = Array.from({ length: 200 }, (_, i) => `t${i} `);
    const upstream = await startUpstream((res) => res.write(burst.map(tokenEvent).join('')));
    const backend = backendFor(upstream);
    const { text, error } = await collect(
      withStreamTimeouts(
        { start: (child) => batchesOf(backend.stream({ ...request(), stop: child, signal: child.abortSignal })) },
        { firstTokenMs: 10_000, idleMs: 150, totalMs: 10_000 },
        new AbortController().signal,
      ),
    );
    expect(text).toBe(burst.join(''));
    expect(error).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', retryable: false });
    await closed(upstream.sockets[0]!);
  });
});
