import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, graphql, replicaConfig } from '../helpers/replicas.js';
import { spawnSwitchyard } from '../helpers/switchyard-process.js';

/**
 * A gateway sharing Redis with a newer version (a rolling upgrade half done, or a rollback): the
 * newer version's snapshot and events are neither applied nor written over, the readable events
 * are learnt, the skipped ones show in /metrics, the warnings carry none of their content, and the
 * gateway serves throughout.
 */

const PREFIX = 'mixed:';
const SECRET = 'a-newer-versions-content';

describe.skipIf(skipWithoutRedis())('a gateway beside a newer version', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
  }, 30_000);
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('keeps the newer snapshot, skips and counts the newer events, learns the rest and serves', async () => {
    const stream = `${PREFIX}learning:stream`;
    const snapshotKey = `${PREFIX}learning:snapshot`;
    const at = Date.now();
    await client.xadd(stream, '*', 'e', JSON.stringify({ type: 'tool-call', tool: SECRET, id: 'n1', origin: 'new', at }), 'p', '-', 'v', '3');
    await client.xadd(stream, '*', 'e', JSON.stringify({ type: 'pull', requestId: 'old-1', armId: 'best', context: 'code', id: 'o1', origin: 'old', at }), 'p', '-', 'v', '2');
    await client.xadd(stream, '*', 'e', JSON.stringify({ type: 'pull', requestId: SECRET, armId: 'best', context: 'code', id: 'n2', origin: 'new', at, why: SECRET }), 'p', '-', 'v', '3');
    await client.xadd(stream, '*', 'e', JSON.stringify({ type: 'pull', requestId: 'bad', armId: 'best', context: 'code', id: 'b1', origin: 'buggy', at: -1 }), 'p', '-', 'v', '2');
    const [newest] = await client.xrevrange(stream, '+', '-', 'COUNT', 1);
    await client.hset(snapshotKey, 'id', newest![0], 'state', JSON.stringify({ version: 3, stats: { learnt: SECRET } }));
    const before = await client.hgetall(snapshotKey);

    const gateway = await spawnSwitchyard({ config: replicaConfig(redis.url, { redis: { url: redis.url, keyPrefix: PREFIX, commandTimeoutMs: 2_000 } }) });
    try {
      await gateway.waitForLog((line) => line.msg?.startsWith('the shared learning snapshot is of a newer format') === true);
      // Serving: a chat routes and ends.
      expect(await chatOn(gateway, 0, 'still serving')).not.toBeNull();
      // The one readable pull from the stream (the chat went to the global context). Learnt before
      // serving when Redis answers at start; a start-up command timed out on a loaded machine
      // leaves it to the retry back into the shared order: waited for, bounded.
      const bestPulls = async () => {
        const { data } = await graphql<{ armsInContext: Array<{ arm: { id: string }; pulls: number }> }>(
          gateway,
          '{ armsInContext(context: "code") { arm { id } pulls } }',
        );
        return data!.armsInContext.find((entry) => entry.arm.id === 'best')!.pulls;
      };
      const deadline = Date.now() + 10_000;
      let pulls = await bestPulls();
      while (pulls !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        pulls = await bestPulls();
      }
      expect(pulls).toBe(1);

      // Snapshots are due every 500 ms: wait for several, the newer one must be intact.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const metrics = parsePrometheusText(await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text());
      const skipped = metrics.get('switchyard_learning_skipped_events_total')!.samples;
      expect(Object.fromEntries(skipped.map((s) => [s.labels.reason, s.value]))).toEqual({ newer: 2, malformed: 1 });
      expect(metrics.get('switchyard_learning_newer_format')!.samples[0]!.value).toBe(3);
      const health = (await (await fetch(gateway.url.replace('/graphql', '/health'))).json()) as { learning: unknown };
      expect(health.learning).toMatchObject({ state: 'ok', skipped: { newer: 2, malformed: 1 }, newerFormat: 3 });
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
    expect(await client.hgetall(snapshotKey)).toEqual(before);
    const warnings = gateway.logs.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings.filter((msg) => msg?.startsWith('learning events of a newer format'))).toHaveLength(1);
    expect(warnings.filter((msg) => msg?.startsWith('malformed learning event'))).toHaveLength(1);
    expect(JSON.stringify(gateway.logs)).not.toContain(SECRET);
  }, 90_000);
});
