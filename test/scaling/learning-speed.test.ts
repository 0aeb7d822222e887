import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { testConfigInput } from '../helpers/gateway.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, feedbackBatch } from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * The learning test (best arm ≥ 95% of the last 500 of 2,000 pulls, thumbs drawn with each arm's
 * known quality) with the traffic spread over 3 replicas, each chat's feedback sent to another
 * replica; test/learning/feedback-learning.test.ts runs the same requests on one instance. Shared learning means each replica
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
    // Six clients at once, two per replica, each chat rated on the next replica.
    const feedbackRng = createRng(99);
    const pulls: string[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (lane) => {
        const by = lane % 3;
        for (let i = lane; i < REQUESTS; i += 6) {
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

    // One instance with the same configuration, seeds and protocol: test/learning/feedback-learning.test.ts
    // (measured 0.988–0.994 there). Shared learning gives each replica all of the evidence, so the
    // same bar holds per request.
    console.info(`best arm share of the last 500 pulls over 3 replicas: ${spread.toFixed(3)}`);
    expect(spread).toBeGreaterThanOrEqual(0.95);
  }, 180_000);
});
