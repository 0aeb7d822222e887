import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { LimitError } from '../../src/limits/limit-error.js';
import { createEarlyChatRefusal, isChatSubscription } from '../../src/server/early-chat-refusal.js';

const CHAT = 'subscription ($input: ChatInput!) { chat(input: $input) { __typename } }';

describe('early chat refusal', () => {
  it('knows a document as a chat only when its one operation is a subscription selecting chat', () => {
    expect(isChatSubscription(parse(CHAT))).toBe(true);
    expect(isChatSubscription(parse('subscription { reply: chat(input: {}) { __typename } }'))).toBe(true);
    expect(isChatSubscription(parse('subscription { metrics { generatedAt } }'))).toBe(false);
    expect(isChatSubscription(parse('query { chat }'))).toBe(false);
    expect(isChatSubscription(parse(`${CHAT} query Other { arms { id } }`))).toBe(false);
  });

  it('refuses only known chat documents, only while admission would, with the refusal admission gives', () => {
    const full = new LimitError('OVERLOADED', 'this instance has 8 chats in flight', 2_000);
    let refusal: LimitError | null = null;
    const early = createEarlyChatRefusal({ chatRefusal: () => refusal });
    refusal = full;
    // Unknown yet: the usual way (parse, validation, admission in the chat gate).
    expect(early.refusal(CHAT)).toBeNull();
    early.learn(CHAT, parse(CHAT));
    early.learn('subscription { metrics { generatedAt } }', parse('subscription { metrics { generatedAt } }'));
    const error = early.refusal(CHAT)!;
    expect(error.extensions).toMatchObject({ code: 'OVERLOADED', retryAfter: 2 });
    // The same error object for every refusal of one reason: nothing allocated per refusal.
    expect(early.refusal(CHAT)).toBe(error);
    expect(early.refusal('subscription { metrics { generatedAt } }')).toBeNull();
    expect(early.refusal(undefined)).toBeNull();
    refusal = null;
    expect(early.refusal(CHAT)).toBeNull();
  });
});
