import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { alive, descendants } from '../helpers/process-tree.js';
import { openaiModel } from '../helpers/upstream.js';

/**
 * Issue 14: SIGTERM with Redis down left a gateway running past 13 s; SIGTERM mid-stream cut
 * WebSocket streams with close 1001 and no ChatError while SSE streams were drained, and /health
 * refused connections during the stop instead of answering 503. Now every transport gets the same
 * promise: a chat in flight finishes, or ends with a ChatError SHUTTING_DOWN within
 * `server.shutdownTimeoutMs`; /health answers 503 until the end; the process exits within the
 * timeout whatever Redis does; and `npm start` leaves no process behind.
 */

/** Time a loaded 2-core machine may add to a bounded stop (process exit, log flush, scheduling). */
const EXIT_SLACK_MS = 7_000;

const CHAT = `subscription Chat($input: ChatInput!) {
  chat(input: $input) {
    __typename
    ... on ChatRoute { requestId }
    ... on ChatError { code partial }
  }
}`;

interface Gateway {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly logs: string[];
  cleanUp(): void;
}

/** A gateway as production runs it: `npm start` (its pre-script, the console build, skipped) or `node` directly. */
async function launch(config: Record<string, unknown>, via: 'npm' | 'node'): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'clean-stops-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config));
  const env = { ...process.env, PORT: '0', SWITCHYARD_CONFIG: configPath, REDIS_URL: '', LOG_LEVEL: 'info' };
  const child =
    via === 'npm'
      ? spawn('npm', ['start', '--ignore-scripts'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listen line within 60 s: ${logs.join('')}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${logs.join('')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      const match = /"url":"([^"]+)".*Switchyard listening/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { url, child, exited, logs, cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
}

interface ChatOutcome {
  readonly events: Array<{ __typename: string; code?: string; partial?: boolean }>;
  error: { extensions?: { code?: string } } | null;
  closeCode: number | null;
  done: boolean;
}

function wsChat(url: string, content: string, arm: string): { client: Client; outcome: ChatOutcome } {
  const outcome: ChatOutcome = { events: [], error: null, closeCode: null, done: false };
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    on: { closed: (event) => void (outcome.closeCode = (event as CloseEvent).code) },
  });
  client.subscribe<{ chat: ChatOutcome['events'][number] }>(
    { query: CHAT, variables: { input: { messages: [{ role: 'USER', content }], arm, cache: false } } },
    {
      next: (result) => {
        if (result.data) outcome.events.push(result.data.chat);
        else if (result.errors) outcome.error = result.errors[0] as never;
      },
      error: (error) => {
        if (Array.isArray(error)) outcome.error = error[0] as never;
        outcome.done = true;
      },
      complete: () => void (outcome.done = true),
    },
  );
  return { client, outcome };
}

/** GraphQL over SSE: every `next` payload's chat event, until the response ends. */
async function sseChat(url: string, content: string, arm: string, into: ChatOutcome): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content }], arm, cache: false } } }),
  });
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const data = block.split('\n').find((line) => line.startsWith('data:'));
        if (!block.includes('event: next') || !data) continue;
        const payload = JSON.parse(data.slice(5)) as { data?: { chat: ChatOutcome['events'][number] }; errors?: unknown[] };
        if (payload.data) into.events.push(payload.data.chat);
        else if (payload.errors) into.error = payload.errors[0] as never;
      }
    }
  } catch {
    // A cut connection ends the stream too; what arrived before it is what counts.
  }
  into.done = true;
}

/** /v1 streaming: the data lines' JSON, until the response ends. */
async function v1Chat(url: string, arm: string): Promise<Array<Record<string, unknown>>> {
  const response = await fetch(new URL('/v1/chat/completions', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: arm, stream: true, messages: [{ role: 'user', content: 'over /v1' }] }),
  });
  const text = await response.text().catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let gateway: Gateway | undefined;
let fake: FakeOpenAIServer | undefined;
let redis: RedisServerHandle | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
  if (gateway) {
    for (const pid of [gateway.child.pid!, ...descendants(gateway.child.pid!)].filter(alive)) process.kill(pid, 'SIGKILL');
    gateway.cleanUp();
  }
  await fake?.close();
  await redis?.stop();
  gateway = fake = redis = undefined;
});

const timeouts = { connectMs: 5_000, firstTokenMs: 30_000, idleMs: 30_000, totalMs: 120_000 };

describe('clean stops', () => {
  it('SIGTERM mid-stream via npm start: short chats finish, long ones end with ChatError SHUTTING_DOWN on every transport, /health says 503 until the end, nothing outlives npm', async () => {
    // "slow": 60 tokens 100 ms apart, far past the timeout; "quick": 5 tokens, done well within it.
    fake = await startFakeOpenAI({
      script: (request) =>
        (request.body as { model: string }).model.startsWith('slow')
          ? { tokens: Array.from({ length: 60 }, (_, i) => ` s${i}`), tokenDelayMs: 100 }
          : { tokens: Array.from({ length: 5 }, (_, i) => ` q${i}`), tokenDelayMs: 100 },
    });
    const shutdownTimeoutMs = 4_000;
    gateway = await launch(
      {
        logLevel: 'info',
        server: { shutdownTimeoutMs, host: '127.0.0.1' },
        models: [openaiModel('slow', fake.url, { timeouts }), openaiModel('quick', fake.url, { timeouts })],
        arms: [
          { id: 'slow', model: 'slow' },
          { id: 'quick', model: 'quick' },
        ],
        shadow: { rate: 0 },
        cache: { enabled: false },
      },
      'npm',
    );
    const url = gateway.url;
    const ws = wsChat(url, 'a long answer over graphql-ws', 'slow');
    clients.push(ws.client);
    const sse: ChatOutcome = { events: [], error: null, closeCode: null, done: false };
    const sseDone = sseChat(url, 'a long answer over SSE', 'slow', sse);
    const v1 = v1Chat(url, 'slow');
    await until(() => ws.outcome.events.length >= 3 && sse.events.length >= 3 && fake!.requests.length >= 3, 'three streams under way');

    const processes = [gateway.child.pid!, ...descendants(gateway.child.pid!)];
    const stopped = performance.now();
    gateway.child.kill('SIGTERM');

    // /health keeps answering, with 503, while the stop runs (once the signal has reached the gateway).
    let exitedYet = false;
    void gateway.exited.then(() => (exitedYet = true));
    let healthDuringStop: number | null = null;
    while (!exitedYet && healthDuringStop !== 503) {
      const response = await fetch(new URL('/health', url)).catch(() => null);
      healthDuringStop = response?.status ?? -1;
      if (healthDuringStop === -1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(healthDuringStop).toBe(503);
    // Asked for once the gateway reports the stop (npm forwards the signal asynchronously, so a chat
    // sent before then may reach a gateway not yet stopping, and finishing it would be right).
    const quick = wsChat(url, 'a short answer', 'quick');
    clients.push(quick.client);

    const code = await gateway.exited;
    const tookMs = performance.now() - stopped;
    console.log(`[figure] SIGTERM mid-stream via npm start: exited ${Math.round(tookMs)} ms after the signal (shutdownTimeoutMs ${shutdownTimeoutMs})`);
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(shutdownTimeoutMs + EXIT_SLACK_MS);
    // npm waited for the gateway: nothing it started is left.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processes.filter(alive)).toEqual([]);

    await until(() => ws.outcome.done || ws.outcome.closeCode !== null, 'the WebSocket chat to end');
    await sseDone;
    const v1Events = await v1;

    // graphql-ws and SSE: the stream was cut with the coded ChatError, not by a bare close.
    for (const outcome of [ws.outcome, sse]) {
      expect(outcome.events[0]?.__typename).toBe('ChatRoute');
      expect(outcome.events.at(-1)).toMatchObject({ __typename: 'ChatError', code: 'SHUTTING_DOWN', partial: true });
    }
    // /v1: an OpenAI error object mid-stream, with the code.
    expect(v1Events.length).toBeGreaterThan(1);
    expect(v1Events.at(-1)).toMatchObject({ error: { code: 'SHUTTING_DOWN' } });
    // A chat asked for during the stop is refused with the code (it may not have had a socket at all).
    expect(quick.outcome.events.filter((e) => e.__typename === 'ChatDone')).toEqual([]);
    if (quick.outcome.error) expect(quick.outcome.error.extensions?.code).toBe('SHUTTING_DOWN');
  });

  it('a chat that can finish within the timeout finishes', async () => {
    fake = await startFakeOpenAI({ script: { tokens: Array.from({ length: 15 }, (_, i) => ` q${i}`), tokenDelayMs: 100 } });
    gateway = await launch(
      {
        logLevel: 'info',
        server: { shutdownTimeoutMs: 6_000, host: '127.0.0.1' },
        models: [openaiModel('quick', fake.url, { timeouts })],
        arms: [{ id: 'quick', model: 'quick' }],
        shadow: { rate: 0 },
        cache: { enabled: false },
      },
      'node',
    );
    const ws = wsChat(gateway.url, 'a short answer', 'quick');
    clients.push(ws.client);
    const sse: ChatOutcome = { events: [], error: null, closeCode: null, done: false };
    const sseDone = sseChat(gateway.url, 'a short answer over SSE', 'quick', sse);
    await until(() => ws.outcome.events.length >= 1 && sse.events.length >= 1, 'both routed');
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    await until(() => ws.outcome.done, 'the WebSocket chat');
    await sseDone;
    expect(ws.outcome.events.at(-1)?.__typename).toBe('ChatDone');
    expect(sse.events.at(-1)?.__typename).toBe('ChatDone');
  });

  for (const fault of ['down', 'hung'] as const) {
    it.skipIf(skipWithoutRedis())(`SIGTERM with Redis ${fault} exits within shutdownTimeoutMs`, async () => {
      redis = await startRedisServer();
      // The first answer is quick; those during the fault stream past the timeout.
      fake = await startFakeOpenAI({
        script: (_request, index) =>
          index === 0 ? { tokens: [' a', ' b'], tokenDelayMs: 10 } : { tokens: Array.from({ length: 80 }, (_, i) => ` t${i}`), tokenDelayMs: 100 },
      });
      const shutdownTimeoutMs = 3_000;
      gateway = await launch(
        {
          logLevel: 'info',
          server: { shutdownTimeoutMs, host: '127.0.0.1' },
          redis: { url: redis.url },
          auth: { anonymousLimits: { requestsPerMinute: 1_000, concurrentStreams: 50 } },
          models: [openaiModel('m', fake.url, { timeouts })],
          arms: [{ id: 'm', model: 'm' }],
        },
        'node',
      );
      const first = wsChat(gateway.url, 'before the fault', 'm');
      clients.push(first.client);
      await until(() => first.outcome.done, 'a chat with Redis up');
      expect(first.outcome.events.at(-1)?.__typename).toBe('ChatDone');

      if (fault === 'down') await redis.kill();
      else redis.pause();
      // Chats while Redis is gone, still streaming at the signal: limits and cache commands pending or failing.
      const during = Array.from({ length: 5 }, (_, i) => wsChat(gateway!.url, `during ${i}`, 'm'));
      clients.push(...during.map((d) => d.client));
      await until(() => during.every((d) => d.outcome.events.length >= 2 || d.outcome.done), 'the chats during the fault to stream');

      const stopped = performance.now();
      gateway.child.kill('SIGTERM');
      const code = await gateway.exited;
      const tookMs = performance.now() - stopped;
      console.log(`[figure] SIGTERM with Redis ${fault}, 5 chats streaming: exited ${Math.round(tookMs)} ms after the signal (shutdownTimeoutMs ${shutdownTimeoutMs})`);
      expect(tookMs).toBeLessThan(shutdownTimeoutMs + EXIT_SLACK_MS);
      expect(code).toBe(0);
      // Cut at the timeout with the code, like any stop.
      for (const { outcome } of during) {
        await until(() => outcome.done || outcome.closeCode !== null, 'the chat to end');
        expect(outcome.events.at(-1)).toMatchObject({ __typename: 'ChatError', code: 'SHUTTING_DOWN' });
      }
      if (fault === 'hung') redis.resume();
    });
  }
});
