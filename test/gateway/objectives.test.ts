import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
