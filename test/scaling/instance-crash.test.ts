import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import {
  armsEverywhere,
  chatOn,
  expectedArms,
  feedbackBatch,
  graphql,
  inParallel,
  replicaConfig,
  type ArmFigures,
  type Served,
} from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * kill -9 of one replica in the middle of a run: it restarts from the shared snapshot and the
 * stream after it, catches up and agrees with the others, operator changes included.
 */

const ARMS = ['weak', 'fair', 'best'];
const PER_PHASE = 200;

describe.skipIf(skipWithoutRedis())('a replica killed mid-run', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];
  const config = () => replicaConfig(redis.url);

  beforeAll(async () => {
    redis = await startRedisServer();
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config: config() })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('restarts, catches up and agrees with the others', async () => {
    const rng = createRng(23);
    const served: Served[] = [];
    const finalScore = new Map<string, number>();
    let inFlightAtKill = 0;
    const active = [0, 0, 0];
    const alive = [true, true, true];
    /** Chats round-robin over `on`, each followed by feedback on another live replica. */
    const run = async (phase: number, on: readonly number[], during?: () => Promise<void>) => {
      const work = inParallel(
        Array.from({ length: PER_PHASE }, (_, i) => i),
        12,
        async (i) => {
          const by = on[i % on.length]!;
          active[by]! += 1;
          if (!alive[by]) return;
          const request = await chatOn(replicas[by]!, by, `phase ${phase} question ${i}`, i % 2 ? ['math'] : undefined);
          active[by]! -= 1;
          if (request === null) return; // cut by the kill
          served.push(request);
          if (i % 3 === 0) return;
          const thumbs = rng() < 0.5 ? 'UP' : 'DOWN';
          // Another replica than the one that served it, among those running.
          const item = { requestId: request.requestId, feedbackToken: request.feedbackToken, thumbs: thumbs as 'UP' | 'DOWN' };
          // A replica killed while the feedback is on its way: sent again to one still running (a
          // second identical score replaces the first if it did land).
          for (;;) {
            const to = [1, 2].map((k) => (by + k) % 3).find((r) => alive[r])!;
            try {
              expect(await feedbackBatch(replicas[to]!, [item])).toEqual([]);
              break;
            } catch (error) {
              if (alive[to]) throw error;
            }
          }
          finalScore.set(request.requestId, thumbs === 'UP' ? 1 : 0);
        },
      );
      await Promise.all([work, during?.()]);
    };

    // An operator change before the crash must survive it.
    await graphql(replicas[1]!, 'mutation { setArmEnabled(id: "weak", enabled: false) { enabled } }');
    await run(0, [0, 1, 2], async () => {
      // Mid-run: once the replica has served a share of the phase.
      while (served.filter((r) => r.by === 2).length < PER_PHASE / 6) await new Promise((resolve) => setTimeout(resolve, 5));
      inFlightAtKill = active[2]!;
      alive[2] = false;
      await replicas[2]!.kill();
    });
    expect(served.some((r) => r.by === 2)).toBe(true);
    await run(1, [0, 1]);
    replicas[2] = await spawnSwitchyard({ config: config() });
    alive[2] = true;
    await run(2, [0, 1, 2]);

    // Pulls of chats cut by the kill may have reached the log: up to that many more than served.
    const expected = expectedArms(ARMS, served, finalScore);
    const deadline = Date.now() + 20_000;
    let shown: Array<Record<string, Record<string, ArmFigures>>> = [];
    const quality = (arms: Record<string, Record<string, ArmFigures>>) =>
      JSON.stringify(Object.entries(arms).map(([c, a]) => [c, Object.entries(a).map(([id, f]) => [id, f.alpha, f.beta])]));
    while (Date.now() < deadline) {
      shown = await Promise.all(replicas.map(armsEverywhere));
      if (shown.every((s) => JSON.stringify(s) === JSON.stringify(shown[0])) && quality(shown[0]!) === quality(expected)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Every replica, the restarted one included, shows exactly the same figures...
    for (const arms of shown) expect(arms).toEqual(shown[0]);
    // ...with exactly the accepted feedback, and every served pull.
    expect(quality(shown[0]!)).toBe(quality(expected));
    const pulls = shown[0]!['*']!;
    const total = ARMS.reduce((sum, arm) => sum + pulls[arm]!.pulls, 0);
    expect(total).toBeGreaterThanOrEqual(served.length);
    expect(total).toBeLessThanOrEqual(served.length + inFlightAtKill);
    const { data } = await graphql<{ arms: Array<{ id: string; enabled: boolean }> }>(replicas[2]!, '{ arms { id enabled } }');
    expect(data!.arms.find((a) => a.id === 'weak')!.enabled).toBe(false);
  }, 180_000);
});
