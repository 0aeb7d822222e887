import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { openaiModel } from '../helpers/upstream.js';

/**
 * Issue 14: an SSE client that stopped reading held its socket and the upstream call past
 * `totalMs` (all 10 still held at 60 s with `totalMs` 20 s): graphql-yoga and graphql-ws wait for
 * writes to drain, and the upstream deadlines run only while the gateway waits for the upstream.
 * Now a connection that drains nothing for `capacity.slowReaderTimeoutMs` (or sits past
 * `capacity.maxWriteBufferBytes` without draining) is cut, and its model call is aborted.
 */

const CHAT = `subscription Chat($input: ChatInput!) {
  chat(input: $input) { __typename ... on ChatChunk { text } }
}`;

/** 300 pieces of ~100 kB, 100 ms apart: 30 s of upstream, megabytes a second for the client to read. */
const piece = ` ${'abcdefgh '.repeat(11_000)}`;
const hugeSlowAnswer = { tokens: Array.from({ length: 300 }, () => piece), tokenDelayMs: 100 };

let gateway: SwitchyardProcess | undefined;
let fake: FakeOpenAIServer | undefined;
const cleanups: Array<() => void> = [];

afterEach(async () => {
  cleanups.splice(0).forEach((fn) => fn());
  await gateway?.stop();
  await fake?.close();
  gateway = fake = undefined;
});

async function start(): Promise<SwitchyardProcess> {
  fake = await startFakeOpenAI({ script: hugeSlowAnswer });
  return spawnSwitchyard({
    config: {
      logLevel: 'info',
      models: [openaiModel('m', fake.url, { timeouts: { connectMs: 5_000, firstTokenMs: 20_000, idleMs: 20_000, totalMs: 120_000 } })],
      arms: [{ id: 'm', model: 'm' }],
      shadow: { rate: 0 },
      cache: { enabled: false },
      capacity: { slowReaderTimeoutMs: 1_000, maxWriteBufferBytes: 262_144 },
    },
  });
}

describe('clients that stop reading', () => {
  it('an SSE client that stops reading is cut and its upstream call aborted, long before the upstream ends', { timeout: 60_000 }, async () => {
    gateway = await start();
    const { port, pathname } = new URL(gateway.url);
    const socket = connect(Number(port), '127.0.0.1');
    cleanups.push(() => socket.destroy());
    const body = JSON.stringify({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content: 'a long one' }] } } });
    socket.write(
      `POST ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Read the headers and the first bytes, then never read again.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();

    const started = Date.now();
    await new Promise<void>((resolve) => {
      const check = () => (fake!.requests.length > 0 ? resolve() : setTimeout(check, 20));
      check();
    });
    await fake!.requests[0]!.connectionClosed;
    const heldMs = Date.now() - started;
    console.log(`[figure] SSE reader stopped: upstream call aborted ${heldMs} ms after the client stopped reading`);
    // The upstream had 30 s to go; it was aborted once the client had stalled for a second.
    expect(heldMs).toBeLessThan(25_000);
    const cut = await gateway.waitForLog((entry) => entry.msg === 'cut a client that stopped reading', 5_000);
    expect(['stalled', 'buffer']).toContain(cut.reason);

    // The gateway serves others as before.
    const health = await fetch(new URL('/health', gateway.url));
    expect(health.status).toBe(200);
  });

  it('a graphql-ws client whose socket stops reading is cut the same way', { timeout: 60_000 }, async () => {
    gateway = await start();
    const ws = new WebSocket(gateway.wsUrl, 'graphql-transport-ws');
    cleanups.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.send(
      JSON.stringify({ id: '1', type: 'subscribe', payload: { query: CHAT, variables: { input: { messages: [{ role: 'USER', content: 'a long one' }] } } } }),
    );
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.pause();

    const started = Date.now();
    await fake!.requests[0]!.connectionClosed;
    const heldMs = Date.now() - started;
    console.log(`[figure] graphql-ws reader stopped: upstream call aborted ${heldMs} ms after the client stopped reading`);
    expect(heldMs).toBeLessThan(25_000);
    await gateway.waitForLog((entry) => entry.msg === 'cut a client that stopped reading', 5_000);
  });
});
