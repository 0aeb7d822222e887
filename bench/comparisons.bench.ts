import { percentile, runAtConcurrency } from './bench-kit.js';
import { redisServerAvailable, startRedisServer } from '../test/helpers/redis-server.js';
import { chatOn, graphql, replicaConfig, type Served } from '../test/helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../test/helpers/switchyard-process.js';

/**
 * `npm run bench -- comparisons`: what taking comparisons on any instance costs. Real gateway
 * processes (zero-latency simulated models), every routed chat shadowed. Comparisons/s and their
 * latency on one embedded instance, then with three instances sharing learning through one
 * redis-server: sent to the instance that ran the shadow call (request and call found in its
 * memory) and to another one (both read from Redis), and the delay until a shadow call that ended
 * on one instance is visible on another.
 */

const CHATS = 300;
const CONCURRENCY = 12;
const COMPARISON = `mutation($id: ID!, $token: String) { submitComparison(requestId: $id, preferred: TIE, feedbackToken: $token) { requestId } }`;
const SHADOW_CALL = `query($id: ID!, $token: String) { shadowCall(requestId: $id, feedbackToken: $token) { status } }`;

async function chats(on: SwitchyardProcess, label: string): Promise<Served[]> {
  const served: Served[] = [];
  await runAtConcurrency(CHATS, CONCURRENCY, async (i) => {
    const request = await chatOn(on, 0, `${label} ${i}`);
    if (!request) throw new Error('a bench chat failed');
    served.push(request);
  });
  return served;
}

/** Waits until `on` shows every request's shadow call completed. */
async function untilCompleted(on: SwitchyardProcess, served: readonly Served[]): Promise<void> {
  for (const request of served) {
    for (;;) {
      const { data } = await graphql<{ shadowCall: { status: string } | null }>(on, SHADOW_CALL, { id: request.requestId, token: request.feedbackToken });
      if (data?.shadowCall?.status === 'COMPLETED') break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

async function compare(on: SwitchyardProcess, served: readonly Served[], label: string): Promise<void> {
  const latencies: number[] = [];
  const result = await runAtConcurrency(served.length, CONCURRENCY, async (i) => {
    const request = served[i]!;
    const started = performance.now();
    const { errors } = await graphql(on, COMPARISON, { id: request.requestId, token: request.feedbackToken });
    if (errors) throw new Error(`comparison refused: ${errors[0]!.message}`);
    latencies.push(performance.now() - started);
  });
  console.log(
    `comparisons: ${label.padEnd(44)} ${((served.length * 1000) / result.elapsedMs).toFixed(0).padStart(5)}/s  p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms`,
  );
}

export async function run(): Promise<void> {
  if (!redisServerAvailable()) {
    console.log('comparisons: redis-server is not on PATH: skipped');
    return;
  }
  const shadow = { shadow: { rate: 1, seed: 3, maxConcurrent: 1_000, budgetUsdPerMinute: 1_000 } };
  const embeddedConfig = replicaConfig('', shadow);
  delete embeddedConfig.redis;
  const embedded = await spawnSwitchyard({ config: embeddedConfig });
  try {
    const served = await chats(embedded, 'embedded');
    await untilCompleted(embedded, served);
    await compare(embedded, served, '1 instance, no Redis (embedded)');
  } finally {
    await embedded.stop();
  }

  const redis = await startRedisServer();
  const replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config: replicaConfig(redis.url, shadow) })));
  try {
    const [a, b] = replicas as [SwitchyardProcess, SwitchyardProcess];
    const served = await chats(a, 'shared');
    // Visibility: from a chat's end on A until B shows its shadow call completed (the shadow call's own time included).
    const delays: number[] = [];
    for (let i = 0; i < 50; i++) {
      const request = (await chatOn(a, 0, `visibility ${i}`))!;
      const ended = performance.now();
      await untilCompleted(b, [request]);
      delays.push(performance.now() - ended);
    }
    console.log(
      `comparisons: chat ended on A → its shadow call completed on B: p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms (${delays.length} samples, 5 ms polling included)`,
    );
    await untilCompleted(a, served);
    const half = served.length / 2;
    await compare(a, served.slice(0, half), '3 instances, shared: on the one that ran it');
    await compare(b, served.slice(half), '3 instances, shared: on another one');
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis.stop();
  }
}
