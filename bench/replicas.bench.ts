import { percentile, runAtConcurrency } from './bench-kit.js';
import { redisServerAvailable, startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { chatOn, graphql, replicaConfig, type Served } from '../test/helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../test/helpers/switchyard-process.js';

/**
 * `npm run bench -- replicas`: what sharing learning through Redis costs. Real gateway processes
 * (zero-latency simulated models, so the gateway itself is measured), one real redis-server:
 * chats/s and feedback/s for 1 and 3 instances, with learning shared through the Redis event log
 * and without (each instance learning alone, feedback sent to the instance that served), and the
 * delay from a feedback's answer until every replica shows it (p50, p99).
 */

const CHATS = 1_500;
const CONCURRENCY = 24;
const LAG_SAMPLES = 150;

const FEEDBACK = `mutation($input: FeedbackInput!) { submitFeedback(input: $input) { score } }`;

interface Figures {
  readonly chatsPerSecond: number;
  readonly feedbackPerSecond: number;
}

async function measure(replicas: readonly SwitchyardProcess[], shared: boolean, label: string): Promise<Figures> {
  const served: Served[] = [];
  const chats = await runAtConcurrency(CHATS, CONCURRENCY, async (i) => {
    const by = i % replicas.length;
    const request = await chatOn(replicas[by]!, by, `bench question ${i}`);
    if (!request) throw new Error('a bench chat failed');
    served.push(request);
  });
  const feedback = await runAtConcurrency(served.length, CONCURRENCY, async (i) => {
    const request = served[i]!;
    // Shared: any instance takes it (here: another one); alone: only the one that served it can.
    const to = shared ? (request.by + 1) % replicas.length : request.by;
    const { errors } = await graphql(replicas[to]!, FEEDBACK, {
      input: { requestId: request.requestId, feedbackToken: request.feedbackToken, thumbs: i % 3 ? 'UP' : 'DOWN' },
    });
    if (errors) throw new Error(`feedback refused: ${errors[0]!.message}`);
  });
  const figures = {
    chatsPerSecond: (CHATS * 1000) / chats.elapsedMs,
    feedbackPerSecond: (served.length * 1000) / feedback.elapsedMs,
  };
  console.log(
    `replicas: ${label.padEnd(34)} ${figures.chatsPerSecond.toFixed(0).padStart(5)} chats/s  ${figures.feedbackPerSecond.toFixed(0).padStart(5)} feedback/s`,
  );
  return figures;
}

/** From a feedback's answer on one replica until every other replica shows it, polled every ~2 ms. */
async function feedbackDelay(replicas: readonly SwitchyardProcess[]): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < LAG_SAMPLES; i++) {
    const by = i % replicas.length;
    const context = `lag/s${i}`;
    const request = await chatOn(replicas[by]!, by, `lag sample ${i}`, ['lag', `s${i}`]);
    if (!request) throw new Error('a bench chat failed');
    const { errors } = await graphql(replicas[by]!, FEEDBACK, {
      input: { requestId: request.requestId, feedbackToken: request.feedbackToken, thumbs: 'UP' },
    });
    if (errors) throw new Error(`feedback refused: ${errors[0]!.message}`);
    const answered = performance.now();
    await Promise.all(
      replicas
        .filter((_, r) => r !== by)
        .map(async (replica) => {
          for (;;) {
            const { data } = await graphql<{ arms: Array<{ id: string; posterior: { alpha: number } }> }>(
              replica,
              'query($c: String) { arms(context: $c) { id posterior { alpha } } }',
              { c: context },
            );
            // Prior Beta(1, 1), no borrowing (hierarchyStrength 0): alpha 2 once the UP is applied.
            if (data!.arms.find((a) => a.id === request.arm)!.posterior.alpha >= 2) return;
            await new Promise((resolve) => setTimeout(resolve, 2));
          }
        }),
    );
    delays.push(performance.now() - answered);
  }
  return delays;
}

async function withReplicas<T>(
  count: number,
  redis: RedisServerHandle | null,
  shared: boolean,
  body: (replicas: SwitchyardProcess[]) => Promise<T>,
): Promise<T> {
  const config = replicaConfig(redis?.url ?? '', { learning: { shared } });
  if (!redis) delete config.redis;
  const replicas = await Promise.all(Array.from({ length: count }, () => spawnSwitchyard({ config })));
  try {
    return await body(replicas);
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
}

export async function run(): Promise<void> {
  if (!redisServerAvailable()) {
    console.log('replicas: redis-server is not on PATH: skipped');
    return;
  }
  await withReplicas(1, null, false, (r) => measure(r, false, '1 instance, no Redis (embedded)'));
  const redis = await startRedisServer();
  try {
    await withReplicas(1, redis, false, (r) => measure(r, false, '1 instance, Redis, learning alone'));
    await withReplicas(1, redis, true, (r) => measure(r, true, '1 instance, Redis, shared learning'));
    await withReplicas(3, redis, false, (r) => measure(r, false, '3 instances, Redis, learning alone'));
    await withReplicas(3, redis, true, async (r) => {
      await measure(r, true, '3 instances, Redis, shared learning');
      const delays = await feedbackDelay(r);
      console.log(
        `replicas: feedback answered → applied on both other replicas: p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms (${delays.length} samples, 2 ms polling included)`,
      );
    });
  } finally {
    await redis.stop();
  }
}
