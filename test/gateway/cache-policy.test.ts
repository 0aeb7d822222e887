import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

async function routeOf(gateway: RunningGateway, content: string, armId?: string) {
  let route: { cached: boolean; armId: string } | null = null;
  for await (const event of gateway.app.services.chat.chat({ messages: [{ role: 'user', content }], armId })) {
    if (event.type === 'route') route = { cached: event.cached, armId: event.armId };
    expect(event.type).not.toBe('error');
  }
  return route!;
}

/** What may be served from the cache, with the in-process cache only (no Redis needed). */
describe('cache policy', () => {
  let gateway: RunningGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it("honours an arm's own temperature: a hot arm's answers are not cached, pinned or routed", async () => {
    const input = testConfigInput({ shadow: { rate: 0 } });
    const arms = (input.arms as Array<Record<string, unknown>>).map((arm) => (arm.id === 'fair' ? { ...arm, temperature: 1.5 } : arm));
    gateway = await startGateway({ config: { ...input, arms } });
    await routeOf(gateway, 'hot pinned', 'fair');
    expect((await routeOf(gateway, 'hot pinned', 'fair')).cached).toBe(false);
    await routeOf(gateway, 'cool pinned', 'good');
    expect((await routeOf(gateway, 'cool pinned', 'good')).cached).toBe(true);

    // Routed requests: whenever the hot arm served, the next identical request is not a hit.
    for (let i = 0; i < 20; i++) {
      const first = await routeOf(gateway, `routed ${i}`);
      const second = await routeOf(gateway, `routed ${i}`);
      expect(second.cached).toBe(first.armId !== 'fair');
    }
  });

  it('treats a cached answer from an arm the deployment no longer has as a miss, and drops it', async () => {
    gateway = await startGateway({ config: testConfigInput({ shadow: { rate: 0 } }) });
    const { cache } = gateway.app.services;
    const messages = [{ role: 'user' as const, content: 'from an older deployment' }];
    const key = cache.keyFor({ messages })!;
    await cache.set(key, {
      text: 'stale answer',
      armId: 'retired-arm',
      modelId: 'retired-model',
      finishReason: 'stop',
      promptTokens: 5,
      completionTokens: 2,
      costUsd: 0.001,
      latencyMs: 10,
      ttftMs: 5,
      createdAt: Date.now(),
    });
    const route = await routeOf(gateway, 'from an older deployment');
    expect(route.cached).toBe(false);
    expect(route.armId).not.toBe('retired-arm');
    // The stale entry is gone; the fresh answer took its place.
    expect((await cache.get(key))?.answer.armId).toBe(route.armId);
  });
});
