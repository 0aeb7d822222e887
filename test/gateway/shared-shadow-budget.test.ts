import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * The shadow budget with shared learning: two gateways over one real redis-server. Every
 * instance's shadow spend, as the event log applies it, counts against `budgetUsdPerMinute`, so
 * N instances spend the budget between them, not N times over.
 */

describe.skipIf(skipWithoutRedis())('shared shadow budget', () => {
  let redis: RedisServerHandle;
  let a: RunningGateway;
  let b: RunningGateway;

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = testConfigInput({
      arms: [
        { id: 'primary', model: 'm-fair' },
        { id: 'candidate', model: 'm-good', enabled: false },
      ],
      cache: { enabled: false },
      shadow: { rate: 1, arm: 'candidate', seed: 1, budgetUsdPerMinute: 1e-6 },
      redis: { url: redis.url, commandTimeoutMs: 2_000 },
    });
    a = await startGateway({ config });
    b = await startGateway({ config });
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const chat = async (gateway: RunningGateway, content: string) => {
    for await (const event of gateway.app.services.chat.chat({ messages: [{ role: 'user', content }], cache: false })) {
      if (event.type === 'error') throw new Error(event.code);
    }
  };

  it("one instance's shadow spend pauses shadowing on the other, and is counted once", async () => {
    await chat(a, 'shadowed on A');
    await expect.poll(() => a.app.services.shadow.stats().completed).toBe(1);
    const spentOnA = a.app.services.shadow.stats().spendUsd;
    expect(spentOnA).toBeGreaterThanOrEqual(1e-6);
    // B ran no shadow call, yet sees A's spend in its last minute and pauses.
    await expect.poll(() => b.app.services.shadow.stats().paused).toBe('budget');
    expect(b.app.services.shadow.stats()).toMatchObject({ calls: 0, spendUsd: 0, spendLastMinuteUsd: spentOnA });
    expect(a.app.services.shadow.stats().spendLastMinuteUsd).toBe(spentOnA);

    await chat(b, 'selected on B, over the shared budget');
    expect(b.app.services.shadow.stats()).toMatchObject({ selected: 1, calls: 0, skipped: { budget: 1 } });
  });
});
