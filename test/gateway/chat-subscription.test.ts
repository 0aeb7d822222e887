import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import {
  ArmsDocument,
  ChatDocument,
  RequestDocument,
  SubmitFeedbackDocument,
  type ChatSubscription,
} from '../../src/client/generated/graphql.js';
import { SwitchyardError } from '../../src/client/switchyard-client.js';
import { startGateway, subscribeSse, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

type ChatEvent = ChatSubscription['chat'];

async function collectChat(gateway: RunningGateway, input: Parameters<typeof chatVariables>[0] = {}): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const result of gateway.client.subscribe(ChatDocument, chatVariables(input))) {
    expect(result.errors).toBeUndefined();
    events.push(result.data!.chat);
  }
  return events;
}

function chatVariables(input: { content?: string; arm?: string; tags?: string[]; cache?: boolean } = {}) {
  return {
    input: {
      messages: [{ role: 'USER' as const, content: input.content ?? 'What is a multi-armed bandit?' }],
      arm: input.arm,
      tags: input.tags,
      cache: input.cache ?? false,
    },
  };
}

/** The protocol every chat must follow: one route, chunks, exactly one terminal event. */
function expectWellFormed(events: ChatEvent[]): void {
  expect(events[0]?.__typename).toBe('ChatRoute');
  const terminal = events.at(-1)!;
  expect(['ChatDone', 'ChatError']).toContain(terminal.__typename);
  const middle = events.slice(1, -1);
  expect(middle.every((e) => e.__typename === 'ChatChunk')).toBe(true);
  const requestIds = new Set(events.map((e) => ('requestId' in e ? e.requestId : null)));
  expect(requestIds.size).toBe(1);
  middle.forEach((chunk, i) => expect(chunk.__typename === 'ChatChunk' && chunk.index).toBe(i));
}

describe('chat subscription over graphql-ws', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('streams route, chunks and done, then completes', async () => {
    const events = await collectChat(gateway);
    expectWellFormed(events);
    const route = events[0]!;
    const done = events.at(-1)!;
    if (route.__typename !== 'ChatRoute' || done.__typename !== 'ChatDone') throw new Error('bad protocol');
    expect(['weak', 'fair', 'good', 'best']).toContain(route.arm);
    expect(route.model).toBe(`m-${route.arm}`);
    expect(route.confidence).toBeGreaterThanOrEqual(0);
    expect(route.confidence).toBeLessThanOrEqual(1);
    expect(route.cached).toBe(false);
    expect(route.attempts).toBe(1);
    const chunks = events.filter((e) => e.__typename === 'ChatChunk');
    expect(done.chunks).toBe(chunks.length);
    expect(done.finishReason).toBe('stop');
    expect(done.metrics.completionTokens).toBe(40);
    expect(done.metrics.promptTokens).toBeGreaterThan(0);
    expect(done.metrics.costUsd).toBeGreaterThan(0);
    expect(done.metrics.reward).toBeGreaterThan(0);
    const text = chunks.map((c) => (c.__typename === 'ChatChunk' ? c.text : '')).join('');
    expect(text.split(/\s+/).filter(Boolean)).toHaveLength(40);
  });

  it('serves a pinned arm without consulting the bandit', async () => {
    for (const arm of ['weak', 'best']) {
      const events = await collectChat(gateway, { arm });
      expectWellFormed(events);
      expect(events[0]!.__typename === 'ChatRoute' && events[0]!.arm).toBe(arm);
    }
  });

  it('feedback moves the arm posterior, replaces itself when repeated, and shows in arms and request', async () => {
    const events = await collectChat(gateway, { arm: 'good', content: 'feedback test' });
    const route = events[0]!;
    const done = events.at(-1)!;
    if (route.__typename !== 'ChatRoute' || done.__typename !== 'ChatDone') throw new Error('bad protocol');
    const globalGood = async () => (await gateway.client.request(ArmsDocument, {})).arms.find((a) => a.id === 'good')!;
    const inContext = async () =>
      (await gateway.client.request(ArmsDocument, { context: route.context })).arms.find((a) => a.id === 'good')!;
    const before = await globalGood();
    const beforeInContext = await inContext();
    const qualityWeight = gateway.config.reward.quality;

    const first = await gateway.client.request(SubmitFeedbackDocument, {
      input: { requestId: done.requestId, feedbackToken: route.feedbackToken, thumbs: 'UP' },
    });
    expect(first.submitFeedback.learned).toBe(true);
    // The mutation answers with the arm in the request's context.
    expect(first.submitFeedback.arm.posterior.mean).toBeGreaterThan(beforeInContext.posterior.mean);
    const afterUp = (await globalGood()).posterior;
    expect(afterUp.alpha - before.posterior.alpha).toBeCloseTo(qualityWeight, 9);
    expect(afterUp.beta).toBeCloseTo(before.posterior.beta, 9);

    // A second submission replaces the first: DOWN after UP puts alpha back and adds to beta.
    const second = await gateway.client.request(SubmitFeedbackDocument, {
      input: { requestId: done.requestId, feedbackToken: route.feedbackToken, thumbs: 'DOWN', comment: 'changed my mind' },
    });
    expect(second.submitFeedback.arm.posterior.mean).toBeLessThan(beforeInContext.posterior.mean);
    const afterDown = (await globalGood()).posterior;
    expect(afterDown.alpha).toBeCloseTo(before.posterior.alpha, 9);
    expect(afterDown.beta - before.posterior.beta).toBeCloseTo(qualityWeight, 9);

    const request = (await gateway.client.request(RequestDocument, { id: done.requestId, feedbackToken: route.feedbackToken })).request!;
    expect(request.status).toBe('COMPLETED');
    expect(request.arm).toBe('good');
    expect(request.context).toBe(route.context);
    expect(request.feedback).toEqual({ score: 0, comment: 'changed my mind' });
    // Disliked: the reward on the router's scale is 0 - penalty, clamped.
    expect(request.metrics!.reward).toBe(0);
  });

  it('refuses feedback for unknown requests and malformed feedback with a code', async () => {
    const unknown = gateway.client.request(SubmitFeedbackDocument, { input: { requestId: 'nope', feedbackToken: 'a'.repeat(32), score: 1 } });
    await expect(unknown).rejects.toBeInstanceOf(SwitchyardError);
    await expect(unknown).rejects.toMatchObject({ errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }] });

    const events = await collectChat(gateway);
    const route = events[0]!;
    if (route.__typename !== 'ChatRoute') throw new Error('bad protocol');
    const { requestId, feedbackToken } = route;
    const both = gateway.client.request(SubmitFeedbackDocument, { input: { requestId, feedbackToken, score: 1, thumbs: 'UP' } });
    await expect(both).rejects.toMatchObject({ errors: [{ extensions: { code: 'INVALID_FEEDBACK' } }] });
    const outOfRange = gateway.client.request(SubmitFeedbackDocument, { input: { requestId, feedbackToken, rating: 9 } });
    await expect(outOfRange).rejects.toMatchObject({ errors: [{ extensions: { code: 'INVALID_FEEDBACK' } }] });
  });
});

describe('chat subscription over SSE', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('streams the same protocol through graphql-yoga server-sent events', async () => {
    const results = await subscribeSse(gateway.url, print(ChatDocument), chatVariables({ arm: 'fair' }));
    const events = results.map((r) => {
      expect(r.errors).toBeUndefined();
      return (r.data as ChatSubscription).chat;
    });
    expectWellFormed(events);
    expect(events[0]!.__typename === 'ChatRoute' && events[0]!.arm).toBe('fair');
    expect(events.at(-1)!.__typename).toBe('ChatDone');
  });
});

describe('routing configuration', () => {
  it('only routes to enabled arms', async () => {
    const input = testConfigInput();
    const gateway = await startGateway({
      config: { ...input, arms: (input.arms as Array<Record<string, unknown>>).map((a) => ({ ...a, enabled: a.id === 'fair' })) },
    });
    try {
      for (let i = 0; i < 5; i++) {
        const events = await collectChat(gateway, { content: `q${i}` });
        expect(events[0]!.__typename === 'ChatRoute' && events[0]!.arm).toBe('fair');
      }
    } finally {
      await gateway.close();
    }
  });
});
