import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import {
  chatOn,
  expectedArms,
  feedbackBatch,
  graphql,
  inParallel,
  replicaConfig,
  untilAllShow,
  type Served,
} from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * Three real gateway processes over one real redis-server, as behind a round-robin load balancer:
 * every replica learns from every replica's traffic and takes feedback for any request.
 */

const ARMS = ['weak', 'fair', 'best'];
const CHATS = 3_000;
const TAGS = [undefined, ['code'], ['code', 'python'], ['math']];

describe.skipIf(skipWithoutRedis())('three replicas sharing learning through Redis', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config: replicaConfig(redis.url) })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('3,000 chats round-robin, feedback on another replica (some twice, some at once): every replica ends with the same arms, exactly what the feedback implies', async () => {
    const rng = createRng(9);
    const served: Served[] = [];
    const t0 = performance.now();
    await inParallel(
      Array.from({ length: CHATS }, (_, i) => i),
      48,
      async (i) => {
        const by = i % 3;
        const request = await chatOn(replicas[by]!, by, `question ${i}`, TAGS[i % TAGS.length]);
        expect(request).not.toBeNull();
        served.push(request!);
      },
    );

    const t1 = performance.now();
    // Feedback goes to a replica other than the one that served the request. Round 1 and round 2
    // run at once: a request in both gets the same score twice, concurrently, on two replicas (it
    // must replace itself, never add). Round 3 runs after: a change of mind on a third replica.
    type Item = { requestId: string; feedbackToken: string; thumbs: 'UP' | 'DOWN' };
    const rounds: Item[][][] = [0, 1, 2].map(() => [[], [], []]);
    const finalScore = new Map<string, number>();
    served.forEach((request, i) => {
      const other = (request.by + 1) % 3;
      const third = (request.by + 2) % 3;
      const thumbs = rng() < 0.6 ? 'UP' : 'DOWN';
      const { requestId, feedbackToken } = request;
      if (i % 5 === 0) return; // no feedback for this one
      if (i % 11 === 0) {
        rounds[0]![other]!.push({ requestId, feedbackToken, thumbs: thumbs === 'UP' ? 'DOWN' : 'UP' });
        rounds[2]![third]!.push({ requestId, feedbackToken, thumbs });
      } else {
        rounds[0]![other]!.push({ requestId, feedbackToken, thumbs });
        if (i % 7 === 0) rounds[1]![third]!.push({ requestId, feedbackToken, thumbs });
      }
      finalScore.set(requestId, thumbs === 'UP' ? 1 : 0);
    });
    const send = (round: Item[][]) => Promise.all(round.map((items, on) => feedbackBatch(replicas[on]!, items)));
    const refused = (await Promise.all([send(rounds[0]!), send(rounds[1]!)])).flat(2);
    refused.push(...(await send(rounds[2]!)).flat());

    const t2 = performance.now();
    expect(refused).toEqual([]);
    const expected = expectedArms(ARMS, served, finalScore);
    const shown = await untilAllShow(replicas, expected);
    for (const arms of shown) expect(arms).toEqual(expected);
    console.info(`chats ${(t1 - t0).toFixed(0)} ms, feedback ${(t2 - t1).toFixed(0)} ms, drained and compared ${(performance.now() - t2).toFixed(0)} ms`);
  }, 180_000);

  it('an arm disabled on one replica stops being routed on all of them within the log delay', async () => {
    const started = performance.now();
    const { errors } = await graphql(replicas[0]!, 'mutation { setArmEnabled(id: "best", enabled: false) { enabled } }');
    expect(errors).toBeUndefined();
    const seenAt: number[] = [];
    await Promise.all(
      replicas.map(async (replica) => {
        for (;;) {
          const { data } = await graphql<{ arms: Array<{ id: string; enabled: boolean }> }>(replica, '{ arms { id enabled } }');
          if (data!.arms.find((a) => a.id === 'best')!.enabled === false) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        seenAt.push(performance.now() - started);
      }),
    );
    console.info(`disable seen on all replicas after ${Math.max(...seenAt).toFixed(0)} ms (mutation included)`);
    // The figure is measured and printed; the test asserts the behaviour: once seen, nothing routes to it.
    const routed: string[] = [];
    await inParallel(
      Array.from({ length: 60 }, (_, i) => i),
      6,
      async (i) => {
        const request = await chatOn(replicas[i % 3]!, i % 3, `after disable ${i}`);
        routed.push(request!.arm);
      },
    );
    expect(routed).not.toContain('best');
    expect(routed).toHaveLength(60);
    // Restarted replicas keep it too (it is part of the shared state): checked in the crash test.
    await graphql(replicas[2]!, 'mutation { setArmEnabled(id: "best", enabled: true) { enabled } }');
  }, 60_000);
});
