import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ChatDocument,
  ChatExplainedDocument,
  RequestExplanationDocument,
  type ChatExplainedSubscription,
  type ChatInput,
} from '../../src/client/generated/graphql.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

type ExplainedRoute = Extract<ChatExplainedSubscription['chat'], { __typename: 'ChatRoute' }>;

/**
 * Explained routing decisions (ChatRoute.explanation, request(id).explanation) through a real
 * gateway and a graphql-ws client. The four test arms are priced 0.0002 / 0.001 / 0.004 / 0.01 per
 * 1k output tokens; every one serves a few requests first, so each has a known expected cost.
 */
describe('explained routing decisions', () => {
  let gateway: RunningGateway;
  const input = (content: string, extra: Partial<ChatInput> = {}): ChatInput => ({
    messages: [{ role: 'USER', content }],
    cache: false,
    ...extra,
  });
  async function explainedRoute(chat: ChatInput): Promise<ExplainedRoute> {
    for await (const result of gateway.client.subscribe(ChatExplainedDocument, { input: chat })) {
      expect(result.errors).toBeUndefined();
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') return event;
      throw new Error(`expected the route first, got ${event.__typename}`);
    }
    throw new Error('no event');
  }
  /** Runs a whole chat with the ordinary document (no explanation selected); the route's request id and token. */
  async function plainChat(chat: ChatInput) {
    let route: { requestId: string; feedbackToken: string } | undefined;
    for await (const result of gateway.client.subscribe(ChatDocument, { input: chat })) {
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') route = event;
    }
    return route!;
  }
  const explanationOf = async (route: { requestId: string; feedbackToken: string }) =>
    (await gateway.client.request(RequestExplanationDocument, { id: route.requestId, feedbackToken: route.feedbackToken })).request;

  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ cache: { enabled: false } }) });
    for (const arm of ['weak', 'fair', 'good', 'best']) {
      for (let i = 0; i < 2; i++) await plainChat(input(`warm ${arm} ${i}`, { arm }));
    }
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("lists every candidate with its draw, mean and expected cost, the chosen arm's draw the highest", async () => {
    const route = await explainedRoute(input('explain this decision'));
    const explanation = route.explanation!;
    expect(explanation.selection).toBe('POLICY');
    expect(explanation.policy).toBe('thompson');
    const candidates = explanation.candidates;
    expect(candidates.map((c) => c.arm).sort()).toEqual(['best', 'fair', 'good', 'weak']);
    expect(candidates.filter((c) => c.chosen).map((c) => c.arm)).toEqual([route.arm]);
    // Thompson sampling routes to the highest draw: the chosen arm's sampled utility tops the list.
    expect(candidates[0]!.arm).toBe(route.arm);
    for (const c of candidates) {
      expect(c.sampledUtility).toEqual(expect.any(Number));
      expect(c.sampledUtility!).toBeLessThanOrEqual(candidates[0]!.sampledUtility!);
      expect(c.meanUtility).toBeGreaterThan(-1);
      expect(c.meanUtility).toBeLessThanOrEqual(1);
      expect(c.expectedCostUsd).toBeGreaterThan(0);
    }
    const cost = Object.fromEntries(candidates.map((c) => [c.arm, c.expectedCostUsd!]));
    expect(cost['weak']).toBeLessThan(cost['fair']!);
    expect(cost['good']).toBeLessThan(cost['best']!);
    expect(explanation.selectionProbability).toBeGreaterThan(0);
    expect(explanation.selectionProbability).toBeLessThanOrEqual(1);
  });

  it('keeps the explanation for request(id), the same draws', async () => {
    const route = await explainedRoute(input('explain and remember'));
    const request = await explanationOf(route);
    expect(request!.arm).toBe(route.arm);
    expect(request!.explanation).toEqual(route.explanation);
  });

  it('does no explanation work when the field is not selected', async () => {
    const router = gateway.app.services.router;
    const route = vi.spyOn(router, 'route');
    try {
      const served = await plainChat(input('no explanation wanted'));
      expect(route).toHaveBeenCalledTimes(1);
      expect(route.mock.calls[0]![0].explain).toBe(false);
      expect(route.mock.results[0]!.value).not.toHaveProperty('explanation');
      expect((await explanationOf(served))!.explanation).toBeNull();
    } finally {
      route.mockRestore();
    }
  });

  it('ChatInput.explain keeps it for request(id) without selecting it on the route', async () => {
    const served = await plainChat(input('explain later', { explain: true }));
    const explanation = (await explanationOf(served))!.explanation!;
    expect(explanation.selection).toBe('POLICY');
    expect(explanation.candidates).toHaveLength(4);
  });

  it('a pinned arm is explained without draws or a selection probability', async () => {
    const route = await explainedRoute(input('pinned', { arm: 'fair' }));
    const explanation = route.explanation!;
    expect(explanation.selection).toBe('PINNED');
    expect(explanation.selectionProbability).toBeNull();
    expect(explanation.candidates.every((c) => c.sampledUtility === null)).toBe(true);
    expect(explanation.candidates.find((c) => c.chosen)!.arm).toBe('fair');
  });

  it("a cost ceiling's candidates are the arms within it", async () => {
    const route = await explainedRoute(input('cheap and explained', { objective: { maxCostUsd: 0.00005 } }));
    expect(route.explanation!.candidates.map((c) => c.arm).sort()).toEqual(['fair', 'weak']);
  });
});
