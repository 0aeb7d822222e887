import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmsDocument, ChatDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/** What `npm start` promises: the embedded default serves routed chats to a graphql-ws client. */
describe('the gateway process on the embedded default configuration', () => {
  let gateway: SwitchyardProcess;
  beforeAll(async () => {
    gateway = await spawnSwitchyard();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('streams a chat, learns from feedback and shows it in arms, then stops cleanly on SIGTERM', async () => {
    const types: string[] = [];
    let requestId = '';
    let arm = '';
    for await (const result of gateway.client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: 'Hello, which model are you?' }] },
    })) {
      expect(result.errors).toBeUndefined();
      const event = result.data!.chat;
      types.push(event.__typename);
      if (event.__typename === 'ChatRoute') {
        requestId = event.requestId;
        arm = event.arm;
      }
    }
    expect(types[0]).toBe('ChatRoute');
    expect(types.at(-1)).toBe('ChatDone');
    expect(types.filter((t) => t === 'ChatChunk').length).toBeGreaterThan(0);

    const before = (await gateway.client.request(ArmsDocument, {})).arms.find((a) => a.id === arm)!;
    await gateway.client.request(SubmitFeedbackDocument, { input: { requestId, rating: 5 } });
    const after = (await gateway.client.request(ArmsDocument, {})).arms.find((a) => a.id === arm)!;
    expect(after.posterior.alpha).toBeGreaterThan(before.posterior.alpha);
    expect(after.posterior.mean).toBeGreaterThan(before.posterior.mean);

    const code = await gateway.stop();
    expect(code).toBe(0);
  });
});
