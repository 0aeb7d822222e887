import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { startBareRelay, type BareRelay } from '../../bench/bare-relay.js';
import { gatewayConfig, SCRIPT } from '../../bench/upstream.bench.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';

type ChatEvent = ChatSubscription['chat'];

async function chat(client: SwitchyardClient, stopAfter = Infinity): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  const variables = { input: { messages: [{ role: 'USER' as const, content: 'a question' }], cache: false } };
  for await (const result of client.subscribe(ChatDocument, variables)) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data!.chat);
    if (events.length >= stopAfter) break;
  }
  return events;
}

/** What the bench's client sees of a chat: each event's type and, for a chunk, its words. */
const outline = (events: ChatEvent[]) => events.map((e) => (e.__typename === 'ChatChunk' ? e.words : e.__typename));

describe('the upstream bench\'s bare relay', () => {
  let fake: FakeOpenAIServer;
  let relay: BareRelay;
  let relayClient: SwitchyardClient;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ script: SCRIPT });
    relay = await startBareRelay(fake.url);
    relayClient = createSwitchyardClient({ url: relay.wsUrl });
  });
  afterAll(async () => {
    await relayClient.dispose();
    await relay.close();
    await fake.close();
  });

  it('sends events of Switchyard\'s shape for the bench\'s script: route, the first token, 20-token chunks, the rest, done', async () => {
    const app = buildApp({ config: parseConfig(gatewayConfig(fake.url)), logger: createLogger('silent'), env: {} });
    const { wsUrl } = await app.start(0, '127.0.0.1');
    const client = createSwitchyardClient({ url: wsUrl });
    try {
      const [ours, relayed] = [await chat(client), await chat(relayClient)];
      // Switchyard's chunk sizes also depend on time (a chunk flushes 50 ms after it began), so on a
      // busy machine they can differ from the 20 its steady state sends; what the bench relies on is
      // the same events with the same fields, in the same order.
      expect(outline(relayed)).toEqual(['ChatRoute', 1, 20, 20, 9, 'ChatDone']);
      const shape = (events: ChatEvent[]) => [...new Set(events.map((e) => `${e.__typename}: ${Object.keys(e).sort().join(' ')}`))];
      expect(shape(relayed)).toEqual(shape(ours));
      const text = (events: ChatEvent[]) => events.map((e) => (e.__typename === 'ChatChunk' ? e.text : '')).join('');
      expect(text(relayed)).toBe(SCRIPT.tokens.join(''));
      expect(text(ours)).toBe(text(relayed));
      expect(relayed.at(-1)).toMatchObject({ finishReason: 'stop', chunks: 4, metrics: { completionTokens: 50, promptTokens: 12 } });
    } finally {
      await client.dispose();
      await app.stop();
    }
  });

  it('sends the client\'s messages upstream as a streamed request with usage', async () => {
    await chat(relayClient);
    expect(fake.requests.at(-1)!.body).toMatchObject({
      model: 'bench',
      messages: [{ role: 'user', content: 'a question' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('closes the upstream response when the client leaves early', async () => {
    fake.enqueue({ tokens: SCRIPT.tokens, firstTokenDelayMs: 0, tokenDelayMs: 100 });
    const events = await chat(relayClient, 2);
    expect(outline(events)).toEqual(['ChatRoute', 1]);
    // The relay hears of it at its next token (100 ms), not after the 5 s the answer would take.
    await expect(fake.requests.at(-1)!.connectionClosed).resolves.toBeUndefined();
  });
});
