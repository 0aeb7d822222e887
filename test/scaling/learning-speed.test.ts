import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createRng } from '../../src/router/random.js';
import { testConfigInput } from '../helpers/gateway.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, feedbackBatch } from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * The learning test (best arm ≥ 95% of the last 500 of 2,000 pulls, thumbs drawn with each arm's
 * known quality) with the traffic spread over 3 replicas, each chat's feedback sent to another
 * replica, against the same 2,000 requests on one instance. Shared learning means each replica
 * learns from all of the traffic, so per request it learns as fast as one instance does (without
 * sharing, each would see a third of it).
 */

const REQUESTS = 2_000;

function learningConfig(): Record<string, unknown> {
  const input = testConfigInput({ logLevel: 'warn', cache: { enabled: false }, shadow: { rate: 0 }, bandit: { seed: 2026 } });
  const models = (input.models as Array<Record<string, unknown>>).map((m) => ({ ...m, inputPer1k: 0, outputPer1k: 0 }));
  return { ...input, models };
}

const QUALITY = new Map(
  (learningConfig().models as Array<{ id: string; quality: number }>).map((m) => [m.id.replace(/^m-/, ''), m.quality]),
);

const bestShare = (pulls: readonly string[]) => {
  const last = pulls.slice(-500);
  return last.filter((arm) => arm === 'best').length / last.length;
};

describe.skipIf(skipWithoutRedis())('learning over three replicas', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = { ...learningConfig(), redis: { url: redis.url, commandTimeoutMs: 2_000 } };
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('puts the best arm on ≥ 95% of the last 500 pulls, as one instance does', async () => {
    // Three clients at once, one per replica, each chat rated on the next replica.
    const feedbackRng = createRng(99);
    const pulls: string[] = [];
    await Promise.all(
      [0, 1, 2].map(async (by) => {
        for (let i = by; i < REQUESTS; i += 3) {
          const request = await chatOn(replicas[by]!, by, `question ${i}`);
          expect(request).not.toBeNull();
          pulls.push(request!.arm);
          const liked = feedbackRng() < QUALITY.get(request!.arm)!;
          const refused = await feedbackBatch(replicas[(by + 1) % 3]!, [
            { requestId: request!.requestId, feedbackToken: request!.feedbackToken, thumbs: liked ? 'UP' : 'DOWN' },
          ]);
          expect(refused).toEqual([]);
        }
      }),
    );
    const spread = bestShare(pulls);

    // The same requests and feedback on one instance, in process.
    const app = buildApp({ config: parseConfig(learningConfig()), logger: createLogger('silent'), env: {} });
    const oneRng = createRng(99);
    const one: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      let requestId = '';
      let arm = '';
      for await (const event of app.services.chat.chat({ messages: [{ role: 'user', content: `question ${i}` }] })) {
        if (event.type === 'route') ({ requestId, armId: arm } = event);
      }
      one.push(arm);
      const liked = oneRng() < QUALITY.get(arm)!;
      await app.services.chat.submitFeedback({ requestId, thumbs: liked ? 'UP' : 'DOWN' });
    }
    await app.stop();
    const alone = bestShare(one);
    console.info(`best arm share of the last 500 pulls: 3 replicas ${spread.toFixed(3)}, one instance ${alone.toFixed(3)}`);
    expect(spread).toBeGreaterThanOrEqual(0.95);
    expect(alone).toBeGreaterThanOrEqual(0.95);
  }, 180_000);
});
