import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyzerObjectivesDocument, ChatDocument, SubmitFeedbackDocument, type ChatInput } from '../../src/client/generated/graphql.js';
import { startGateway, subscribeSse, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

const CHAT = `subscription ($input: ChatInput!) {
  chat(input: $input) { __typename ... on ChatRoute { arm } ... on ChatError { code } }
}`;

/**
 * Per-request objectives through a real gateway. The four test arms cost (per 1k output tokens)
 * 0.0002 (weak), 0.001 (fair), 0.004 (good), 0.01 (best); after every arm has served a few
 * uncached requests their cost means are known, so a ceiling between two prices is decisive.
 */
describe('per-request objectives on ChatInput', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ cache: { enabled: false } }) });
    for (const arm of ['weak', 'fair', 'good', 'best']) {
      for (let i = 0; i < 2; i++) await chat({ messages: [{ role: 'USER', content: `warm ${arm} ${i}` }], arm });
    }
  });
  afterAll(async () => {
    await gateway?.close();
  });

  async function chat(input: Record<string, unknown>) {
    const results = await subscribeSse(gateway.url, CHAT, { input });
    return results;
  }

  it('keeps a request under its cost ceiling, and only that request', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const [first] = await chat({ messages: [{ role: 'USER', content: `cheap please ${i}` }], objective: { maxCostUsd: 0.00005 } });
      const route = first!.data!.chat as { __typename: string; arm: string };
      expect(route.__typename).toBe('ChatRoute');
      seen.add(route.arm);
    }
    // 40 answer tokens plus the prompt at weak's and fair's prices are below $0.00005; good's and best's are not.
    expect([...seen].every((arm) => arm === 'weak' || arm === 'fair')).toBe(true);
  });

  it('routes to the cheapest expected arm when nothing fits the ceiling', async () => {
    for (let i = 0; i < 5; i++) {
      const [first] = await chat({ messages: [{ role: 'USER', content: `nothing fits ${i}` }], objective: { maxCostUsd: 1e-12 } });
      expect((first!.data!.chat as { arm: string }).arm).toBe('weak');
    }
  });

  it('refuses an objective out of range with INVALID_OBJECTIVE', async () => {
    for (const objective of [{ costWeight: -1 }, { latencyWeight: 1e9 }, { maxCostUsd: 0 }]) {
      const results = await chat({ messages: [{ role: 'USER', content: 'x' }], objective });
      const codes = results.flatMap((r) => (r.errors ?? []) as Array<{ extensions?: { code?: string } }>).map((e) => e.extensions?.code);
      const event = results[0]?.data?.chat as { code?: string } | undefined;
      expect([...codes, event?.code]).toContain('INVALID_OBJECTIVE');
    }
  });
});

describe('spend and quality per objective in the analyzer', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ cache: { enabled: false } }) });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  /** A whole chat over graphql-ws, then the given feedback score; the serving arm. */
  async function served(content: string, objective: ChatInput['objective'], score: number): Promise<string> {
    let route: { requestId: string; feedbackToken: string; arm: string } | undefined;
    for await (const result of gateway.client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content }], cache: false, objective } })) {
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') route = event;
    }
    await gateway.client.request(SubmitFeedbackDocument, { input: { requestId: route!.requestId, feedbackToken: route!.feedbackToken, score } });
    return route!.arm;
  }

  it('groups requests by objective, those without one under the default, with their spend, quality and arms', async () => {
    const arms = { default: [] as string[], ceiling: [] as string[] };
    for (let i = 0; i < 4; i++) arms.default.push(await served(`plain ${i}`, undefined, 1));
    // An empty objective is no objective: the default group.
    arms.default.push(await served('empty objective', {}, 0));
    for (let i = 0; i < 3; i++) arms.ceiling.push(await served(`cheap ${i}`, { maxCostUsd: 1e-12 }, i === 0 ? 0 : 0.5));
    const { analyzer } = await gateway.client.request(AnalyzerObjectivesDocument, {});
    const [first, second, ...rest] = analyzer.objectives;
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ objective: 'default', costWeight: null, maxCostUsd: null, requests: 5, errors: 0, judged: 5, meanQuality: 0.8 });
    expect(second).toMatchObject({ objective: 'maxCostUsd=1e-12', maxCostUsd: 1e-12, requests: 3, judged: 3 });
    expect(second!.meanQuality).toBeCloseTo(1 / 3, 4);
    for (const [group, figures] of [[arms.default, first!], [arms.ceiling, second!]] as const) {
      expect(figures.arms.reduce((sum, a) => sum + a.requests, 0)).toBe(group.length);
      for (const a of figures.arms) expect(a.requests).toBe(group.filter((arm) => arm === a.arm).length);
      expect(figures.spendUsd).toBeGreaterThan(0);
      expect(figures.meanCostUsd).toBeCloseTo(figures.spendUsd / figures.requests, 12);
    }
  });

  it('a second score for the same request replaces the first in the mean', async () => {
    let route: { requestId: string; feedbackToken: string } | undefined;
    for await (const result of gateway.client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: 'rescored' }], cache: false, objective: { costWeight: 2 } },
    })) {
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') route = event;
    }
    for (const score of [0, 1]) {
      await gateway.client.request(SubmitFeedbackDocument, { input: { requestId: route!.requestId, feedbackToken: route!.feedbackToken, score } });
    }
    const { analyzer } = await gateway.client.request(AnalyzerObjectivesDocument, {});
    expect(analyzer.objectives.find((o) => o.objective === 'costWeight=2')).toMatchObject({ costWeight: 2, requests: 1, judged: 1, meanQuality: 1 });
  });
});
