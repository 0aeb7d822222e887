import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, expectedArms, feedbackBatch, inParallel, replicaConfig, untilAllShow, type Served } from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * Redis killed in the middle of a run and restarted (from its append-only file, as a deployment
 * keeping shared learning in Redis runs it): every replica keeps routing and learning locally,
 * buffers what it could not append, appends each event exactly once when Redis is back and ends
 * with the shared order again. Nothing accepted is lost or counted twice.
 */

const ARMS = ['weak', 'fair', 'best'];
const PER_PHASE = 450;

describe.skipIf(skipWithoutRedis())('shared learning across a Redis outage', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config: replicaConfig(redis.url) })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('keeps learning while Redis is down and converges, exactly, when it returns', async () => {
    const rng = createRng(17);
    const served: Served[] = [];
    const finalScore = new Map<string, number>();
    const chats = async (phase: number) => {
      const batch: Served[] = [];
      await inParallel(
        Array.from({ length: PER_PHASE }, (_, i) => i),
        24,
        async (i) => {
          const by = i % 3;
          const request = await chatOn(replicas[by]!, by, `phase ${phase} question ${i}`, i % 2 ? ['code'] : undefined);
          expect(request).not.toBeNull();
          batch.push(request!);
        },
      );
      served.push(...batch);
      return batch;
    };
    const thumbsFor = () => (rng() < 0.6 ? 'UP' : 'DOWN') as 'UP' | 'DOWN';
    /** Feedback for each request on the replica `pick` names; returns the refusals. */
    const feedback = async (requests: readonly Served[], pick: (request: Served) => number) => {
      const byReplica: Array<Array<{ requestId: string; feedbackToken: string; thumbs: 'UP' | 'DOWN' }>> = [[], [], []];
      const scores = new Map<string, number>();
      for (const request of requests) {
        const thumbs = thumbsFor();
        byReplica[pick(request)]!.push({ requestId: request.requestId, feedbackToken: request.feedbackToken, thumbs });
        scores.set(request.requestId, thumbs === 'UP' ? 1 : 0);
      }
      const refused = (await Promise.all(byReplica.map((items, on) => feedbackBatch(replicas[on]!, items)))).flat();
      if (refused.length === 0) for (const [id, score] of scores) finalScore.set(id, score);
      return refused;
    };

    // Before: feedback for half of the requests, on another replica.
    const before = await chats(0);
    expect(await feedback(before.filter((_, i) => i % 2 === 0), (r) => (r.by + 1) % 3)).toEqual([]);

    await redis.kill();
    const during = await chats(1);
    // A request served by another replica cannot be checked now: refused with a precise code.
    const unavailable = await feedbackBatch(replicas[(during[0]!.by + 1) % 3]!, [{ requestId: during[0]!.requestId, feedbackToken: during[0]!.feedbackToken, thumbs: 'UP' }]);
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]).toMatch(/^REQUEST_UNAVAILABLE: /);
    // On the replica that served it, feedback works: for requests served during the outage and
    // before it (including a second score replacing one given before the outage elsewhere).
    expect(await feedback(during.filter((_, i) => i % 2 === 0), (r) => r.by)).toEqual([]);
    expect(await feedback(before.filter((_, i) => i % 3 === 0), (r) => r.by)).toEqual([]);
    const health = (await (await fetch(new URL('/health', replicas[0]!.url))).json()) as {
      learning: { state: string; buffered: number; dropped: number };
    };
    expect(health.learning).toMatchObject({ state: 'degraded', dropped: 0 });
    expect(health.learning.buffered).toBeGreaterThan(0);

    await redis.start();
    const after = await chats(2);
    // Records of chats that ended as Redis came back are shared once the log has caught up (≤ 250 ms later).
    const caughtUp = async () => {
      for (const replica of replicas) {
        for (;;) {
          const { learning } = (await (await fetch(new URL('/health', replica.url))).json()) as { learning: { state: string; buffered: number } };
          if (learning.state === 'ok' && learning.buffered === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    };
    await caughtUp();
    expect(await feedback(after.filter((_, i) => i % 2 === 0), (r) => (r.by + 2) % 3)).toEqual([]);
    // Requests served during the outage, scored again on another replica now that Redis is back.
    expect(await feedback(during.filter((_, i) => i % 4 === 0), (r) => (r.by + 1) % 3)).toEqual([]);

    const expected = expectedArms(ARMS, served, finalScore);
    const shown = await untilAllShow(replicas, expected, 30_000);
    for (const arms of shown) expect(arms).toEqual(expected);
    for (const replica of replicas) {
      const status = (await (await fetch(new URL('/health', replica.url))).json()) as { learning: { state: string; buffered: number } };
      expect(status.learning).toMatchObject({ state: 'ok', buffered: 0 });
    }
  }, 180_000);
});
