import { describe, expect, it } from 'vitest';
import { ArmsDocument, ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

async function chat(gateway: RunningGateway, content: string, arm?: string, cache = false): Promise<ChatSubscription['chat'][]> {
  const events: ChatSubscription['chat'][] = [];
  for await (const result of gateway.client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content }], arm, cache },
  })) {
    expect(result.errors).toBeUndefined();
    events.push(result.data!.chat);
  }
  return events;
}

const zeroModel = (id: string) => ({ id, provider: 'simulated', ttftMs: 0, tokensPerSecond: 0, answerTokens: 12 });

/** Shapes of configuration other than the default four arms. */
describe('other configurations', () => {
  it('one model, one arm: every chat goes there with full confidence', async () => {
    const gateway = await startGateway({
      config: testConfigInput({ models: [zeroModel('only')], arms: [{ id: 'solo', model: 'only' }] }),
    });
    try {
      for (const content of ['a', 'b', 'c']) {
        const [route, ...rest] = await chat(gateway, content);
        expect(route).toMatchObject({ __typename: 'ChatRoute', arm: 'solo', confidence: 1 });
        expect(rest.at(-1)!.__typename).toBe('ChatDone');
      }
    } finally {
      await gateway.close();
    }
  });

  it('two arms on one model differ by their settings, and both learn separately', async () => {
    const gateway = await startGateway({
      config: testConfigInput({
        models: [zeroModel('shared')],
        arms: [
          { id: 'plain', model: 'shared' },
          { id: 'terse', model: 'shared', systemPrompt: 'Answer in one word.', maxTokens: 4 },
        ],
        shadow: { rate: 0 },
      }),
    });
    try {
      const plain = await chat(gateway, 'same question', 'plain');
      const terse = await chat(gateway, 'same question', 'terse');
      const done = (events: ChatSubscription['chat'][]) => events.at(-1)!;
      expect(done(plain)).toMatchObject({ __typename: 'ChatDone', finishReason: 'stop', metrics: { completionTokens: 12 } });
      // The arm's own maxTokens caps the answer; its system prompt changes the prompt the model sees.
      expect(done(terse)).toMatchObject({ __typename: 'ChatDone', finishReason: 'length', metrics: { completionTokens: 4 } });
      const arms = (await gateway.client.request(ArmsDocument, {})).arms;
      expect(arms.map((a) => [a.id, a.model, a.pulls])).toEqual([
        ['plain', 'shared', 1],
        ['terse', 'shared', 1],
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('runs with the cache switched off', async () => {
    const gateway = await startGateway({ config: testConfigInput({ cache: { enabled: false } }) });
    try {
      // The request asks for the cache; the configuration has none.
      const first = await chat(gateway, 'repeat me', undefined, true);
      const second = await chat(gateway, 'repeat me', undefined, true);
      expect(first[0]).toMatchObject({ cached: false });
      expect(second[0]).toMatchObject({ cached: false });
    } finally {
      await gateway.close();
    }
  });
});
