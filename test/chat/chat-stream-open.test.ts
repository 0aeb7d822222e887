import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import type { ChatEvent } from '../../src/chat/chat-events.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { StopController } from '../../src/stop-signal.js';
import { testConfigInput } from '../helpers/gateway.js';
import { createScriptedBackend, deferred, type ScriptedBackendOptions } from '../helpers/scripted-backend.js';

/**
 * A chat stream opens as it is made: the model call starts before the transport reads, and what
 * comes before that first read (the route, or how the answer failed) is handed to it.
 */

let app: App | null = null;
afterEach(async () => {
  await app?.stop();
  app = null;
});

function chatService(options: ScriptedBackendOptions) {
  const backend = createScriptedBackend('scripted', { tokens: ['one ', 'two'], ...options });
  const config = parseConfig(
    testConfigInput({
      models: [{ id: 'scripted', provider: 'simulated' }],
      arms: [{ id: 'only', model: 'scripted' }],
      router: { maxAttempts: 1 },
      shadow: { rate: 0 },
    }),
  );
  app = buildApp({ config, logger: createLogger('silent'), env: {}, backends: new Map([['scripted', backend]]) });
  return { chat: app.services.chat, backend };
}

const request = { messages: [{ role: 'user' as const, content: 'hello' }], cache: false };
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

const text = (events: readonly ChatEvent[]) => events.map((event) => (event.type === 'chunk' ? event.text : '')).join('');

async function readAll(stream: AsyncGenerator<ChatEvent, void, undefined>): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('chat stream opening', () => {
  it('starts the model call before the first read, and hands the route that came meanwhile to that read', async () => {
    const { chat, backend } = chatService({});
    const stream = chat.stream(request, new StopController());
    expect(backend.calls()).toBe(1);
    // The answer's first token (and so its route) arrives before anyone reads.
    await settle();
    const events = await readAll(stream);
    expect(events[0]?.type).toBe('route');
    expect(events.at(-1)?.type).toBe('done');
    expect(text(events)).toBe('one two');
    const route = events[0] as Extract<ChatEvent, { type: 'route' }>;
    expect(route.armId).toBe('only');
    // The record was stored before the route named it, and feedback finds it completed.
    expect(chat.localRequest(route.requestId)).toMatchObject({ status: 'completed', tokenDigest: expect.any(String) });
  });

  it('a read that waits for the route gets it when the first token comes', async () => {
    const firstToken = deferred();
    const { chat } = chatService({ beforeFirstToken: () => firstToken.promise });
    const stream = chat.stream(request, new StopController());
    const first = stream.next();
    await settle();
    firstToken.resolve();
    expect((await first).value).toMatchObject({ type: 'route', armId: 'only' });
    const rest = await readAll(stream);
    expect(text(rest)).toBe('one two');
    expect(rest.at(-1)?.type).toBe('done');
  });

  it('a model that failed before the first read: that read gets the route, then the error', async () => {
    const { chat } = chatService({ failWith: 'UPSTREAM_HTTP_ERROR' });
    const stream = chat.stream(request, new StopController());
    await settle();
    const events = await readAll(stream);
    expect(events.map((event) => event.type)).toEqual(['route', 'error']);
    expect(events[1]).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false });
  });

  it('left before its first read: the model call is stopped and the stream ends', async () => {
    const firstToken = deferred();
    const { chat } = chatService({ beforeFirstToken: () => firstToken.promise });
    const stop = new StopController();
    const stream = chat.stream(request, stop);
    stop.abort(new Error('the client left'));
    await expect(stream.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    await expect(stream.next()).resolves.toEqual({ done: true, value: undefined });
  });
});
