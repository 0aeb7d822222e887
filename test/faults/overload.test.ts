import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { openaiModel } from '../helpers/upstream.js';

/**
 * Issue 14: 6,000 concurrent chats to a slow model took the time to route to a p99 of 29 s and the
 * RSS to 1.5 GB, and nothing was refused. Now an instance admits `capacity.maxChats` chats and
 * `capacity.maxUpstreamCallsPerModel` calls per model; the excess is refused at once with
 * OVERLOADED and a retry-after on every transport, `/health` says the instance is saturated, and
 * the chats in flight finish. A chat whose document is known (it went the whole way before) is
 * refused before parse, validation and execution while the instance is full, so a burst is refused
 * as fast as its messages are read. The shed rate, route time and time to refusal under overload are
 * in docs/reliability.md (bench/reliability.bench.ts).
 */

const CHAT = `subscription Chat($input: ChatInput!) {
  chat(input: $input) {
    __typename
    ... on ChatRoute { arm }
    ... on ChatError { code message }
  }
}`;

interface Outcome {
  readonly events: string[];
  error: { message: string; extensions?: { code?: string; retryAfter?: number } } | null;
  done: boolean;
  code?: string;
}

function startChat(client: Client, content: string): Outcome {
  const outcome: Outcome = { events: [], error: null, done: false };
  client.subscribe<{ chat: { __typename: string; code?: string } }>(
    { query: CHAT, variables: { input: { messages: [{ role: 'USER', content }], cache: false } } },
    {
      next: (result) => {
        if (result.data) {
          outcome.events.push(result.data.chat.__typename);
          if (result.data.chat.code) outcome.code = result.data.chat.code;
        } else if (result.errors) outcome.error = result.errors[0] as never;
      },
      error: (error) => {
        outcome.error = Array.isArray(error) ? (error[0] as never) : { message: String(error) };
        outcome.done = true;
      },
      complete: () => {
        outcome.done = true;
      },
    },
  );
  return outcome;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let gateway: SwitchyardProcess | undefined;
let fake: FakeOpenAIServer | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.dispose();
  await gateway?.stop();
  await fake?.close();
  client = gateway = fake = undefined;
});

const slowAnswer = { firstTokenDelayMs: 1_500, tokens: Array.from({ length: 10 }, (_, i) => ` w${i}`), tokenDelayMs: 150 };

/** One slow arm, at most 8 chats, and 8 chats started on one socket to fill it. */
async function fillSlowGateway(capacity: Record<string, unknown>) {
  fake = await startFakeOpenAI({ script: slowAnswer });
  gateway = await spawnSwitchyard({
    config: {
      models: [openaiModel('slow', fake.url, { timeouts: { connectMs: 5_000, firstTokenMs: 20_000, idleMs: 20_000, totalMs: 60_000 } })],
      arms: [{ id: 'slow', model: 'slow' }],
      shadow: { rate: 0 },
      capacity: { maxChats: 8, retryAfterMs: 2_000, ...capacity },
    },
  });
  client = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const inFlight = Array.from({ length: 8 }, (_, i) => startChat(client!, `in flight ${i}`));
  // Kept in the file's variables too, for afterEach to close.
  return { fake, gateway, client, inFlight };
}

describe('admission control', () => {
  it('refuses chats past maxChats at once with OVERLOADED and a retry-after on every transport, reports saturation, and finishes the chats in flight', async () => {
    const { fake, gateway, client, inFlight } = await fillSlowGateway({});
    await until(() => fake!.requests.length >= 8, 'eight upstream calls');

    // graphql-ws: a coded GraphQL error with the retry-after, before any event.
    const refused = Array.from({ length: 30 }, (_, i) => startChat(client!, `refused ${i}`));
    await until(() => refused.every((o) => o.done), 'the refusals');
    for (const outcome of refused) {
      expect(outcome.events).toEqual([]);
      expect(outcome.error?.extensions?.code).toBe('OVERLOADED');
      expect(outcome.error?.extensions?.retryAfter).toBe(2);
    }

    // GraphQL over SSE: the same error, and Retry-After in the response header.
    const sse = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content: 'sse' }] } } }),
    });
    expect(sse.headers.get('retry-after')).toBe('2');
    expect(await sse.text()).toContain('"code":"OVERLOADED"');

    // /v1: the OpenAI error shape, 503 and Retry-After (the SDKs retry after it).
    const v1 = await fetch(new URL('/v1/chat/completions', gateway.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'v1' }], stream: true }),
    });
    expect(v1.status).toBe(503);
    expect(v1.headers.get('retry-after')).toBe('2');
    const body = (await v1.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('OVERLOADED');
    expect(body.error.type).toBe('server_error');

    const health = (await (await fetch(new URL('/health', gateway.url))).json()) as {
      capacity: { saturated: boolean; chats: { inFlight: number; limit: number }; refused: { chats: number } };
    };
    expect(health.capacity.saturated).toBe(true);
    expect(health.capacity.chats).toEqual({ inFlight: 8, limit: 8 });
    expect(health.capacity.refused.chats).toBe(32);

    // Nothing the refusals did reached the model, and the chats in flight all finished.
    await until(() => inFlight.every((o) => o.done), 'the chats in flight');
    for (const outcome of inFlight) {
      expect(outcome.error).toBeNull();
      expect(outcome.events.at(-1)).toBe('ChatDone');
    }
    expect(fake.requests).toHaveLength(8);

    // Room again once they ended.
    const after = startChat(client, 'after');
    await until(() => after.done, 'a chat after the overload');
    expect(after.events.at(-1)).toBe('ChatDone');
    const calm = (await (await fetch(new URL('/health', gateway.url))).json()) as { capacity: { saturated: boolean } };
    expect(calm.capacity.saturated).toBe(false);
  });

  it('refuses a burst of 3,000 chats on 30 sockets before executing any of them, while the chats in flight stream on', async () => {
    const { fake, gateway, inFlight } = await fillSlowGateway({ maxConnectionsPerClient: 40 });
    await until(() => fake!.requests.length >= 8, 'eight upstream calls');

    const sockets = Array.from({ length: 30 }, () => createClient({ url: gateway!.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined }));
    try {
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.on('connected', () => resolve()))));
      const started = performance.now();
      const burst = Array.from({ length: 3_000 }, (_, i) => {
        const outcome = { refusedAt: 0, atSubscribe: false, code: undefined as string | undefined, events: 0 };
        sockets[i % sockets.length]!.subscribe<{ chat: { __typename: string } }>(
          { query: CHAT, variables: { input: { messages: [{ role: 'USER', content: `burst ${i}` }], cache: false } } },
          {
            // A refusal by the resolver (after parse, validation and execution began) comes as a result with errors.
            next: (result) => {
              if (result.errors) {
                outcome.code = (result.errors[0] as { extensions?: { code?: string } }).extensions?.code;
                outcome.refusedAt = performance.now() - started;
              } else outcome.events += 1;
            },
            // graphql-ws's error message: the operation was refused at subscribe, it never executed.
            error: (error) => {
              outcome.atSubscribe = Array.isArray(error);
              outcome.code = Array.isArray(error) ? (error[0] as { extensions?: { code?: string } }).extensions?.code : String(error);
              outcome.refusedAt = performance.now() - started;
            },
            complete: () => undefined,
          },
        );
        return outcome;
      });
      await until(() => burst.every((o) => o.refusedAt > 0), 'the burst refused');
      const times = burst.map((o) => o.refusedAt).sort((a, b) => a - b);
      const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(0);
      console.log(`burst of 3000 refused chats over 30 sockets: time to refusal p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, last ${at(1)} ms`);
      expect(burst.filter((o) => o.code !== 'OVERLOADED' || o.events > 0)).toEqual([]);
      expect(burst.filter((o) => !o.atSubscribe)).toHaveLength(0);
      expect(fake.requests).toHaveLength(8);
    } finally {
      await Promise.all(sockets.map((s) => s.dispose()));
    }
    await until(() => inFlight.every((o) => o.done), 'the chats in flight');
    for (const outcome of inFlight) expect(outcome.events.at(-1)).toBe('ChatDone');
  });

  it('bounds the calls in flight per model: a full model is routed around, and a chat no model can take is refused with OVERLOADED', async () => {
    fake = await startFakeOpenAI({ script: slowAnswer });
    const timeouts = { connectMs: 5_000, firstTokenMs: 20_000, idleMs: 20_000, totalMs: 60_000 };
    gateway = await spawnSwitchyard({
      config: {
        models: [openaiModel('one', fake.url, { timeouts }), openaiModel('two', fake.url, { timeouts })],
        arms: [
          { id: 'one', model: 'one' },
          { id: 'two', model: 'two' },
        ],
        shadow: { rate: 0 },
        capacity: { maxChats: 100, maxUpstreamCallsPerModel: 3 },
      },
    });
    client = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    const first = Array.from({ length: 6 }, (_, i) => startChat(client!, `first ${i}`));
    await until(() => fake!.requests.length >= 6, 'six upstream calls');
    const byModel = new Map<string, number>();
    for (const request of fake.requests) {
      const model = (request.body as { model: string }).model;
      byModel.set(model, (byModel.get(model) ?? 0) + 1);
    }
    expect(Object.fromEntries(byModel)).toEqual({ 'one-at-provider': 3, 'two-at-provider': 3 });

    // Every model full: refused at once, before routing, like a full instance.
    const seventh = startChat(client, 'seventh');
    await until(() => seventh.done, 'the seventh chat');
    expect(seventh.events).toEqual([]);
    expect(seventh.error?.extensions?.code).toBe('OVERLOADED');
    expect(seventh.error?.extensions?.retryAfter).toBe(1);
    expect(fake.requests).toHaveLength(6);

    await until(() => first.every((o) => o.done), 'the first six');
    for (const outcome of first) expect(outcome.events.at(-1)).toBe('ChatDone');
  });
});
