import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, graphql, replicaConfig } from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * A newer version's learning snapshot that appears in Redis while a running gateway reconnects
 * (Redis restarted from its append-only file, a newer replica first to write; the gateway held with
 * SIGSTOP meanwhile, so that it reconnects to the newer snapshot whatever the load): the gateway neither
 * loads nor replaces it and reports it (`switchyard_learning_newer_format`), whether it was idle
 * through the outage (nothing to append, no rebase) or learnt locally and buffered meanwhile.
 */

const SECRET = 'a-newer-versions-snapshot';

describe.skipIf(skipWithoutRedis())('a newer snapshot met across a Redis reconnect', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
  }, 30_000);
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  const figures = async (gateway: SwitchyardProcess) => {
    const metrics = parsePrometheusText(await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text());
    const health = (await (await fetch(gateway.url.replace('/graphql', '/health'))).json()) as { learning: { state: string; buffered: number } };
    return { newerFormat: metrics.get('switchyard_learning_newer_format')!.samples[0]!.value, learning: health.learning };
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** Pulls of the arm in the global context, as the gateway counts them. */
  const pulls = async (gateway: SwitchyardProcess) => {
    const { data } = await graphql<{ arms: Array<{ pulls: number }> }>(gateway, '{ arms { pulls } }');
    return data!.arms.reduce((sum, arm) => sum + arm.pulls, 0);
  };

  for (const outage of ['idle', 'buffering'] as const) {
    it(`keeps and reports it, ${outage === 'idle' ? 'idle through the outage' : 'after learning locally through it'}`, async () => {
      const prefix = `reconnect-${outage}:`;
      const snapshotKey = `${prefix}learning:snapshot`;
      const gateway = await spawnSwitchyard({ config: replicaConfig(redis.url, { redis: { url: redis.url, keyPrefix: prefix, commandTimeoutMs: 2_000 } }) });
      try {
        expect(await chatOn(gateway, 0, 'before the outage')).not.toBeNull();
        // Its own snapshot written (every 500 ms), covering that chat.
        await until('the gateway snapshots', async () => (await client.hget(snapshotKey, 'state'))?.startsWith('{"version":2,') === true);
        expect((await figures(gateway)).newerFormat).toBe(0);

        await redis.kill();
        if (outage === 'buffering') {
          expect(await chatOn(gateway, 0, 'during the outage')).not.toBeNull();
          expect((await figures(gateway)).learning).toMatchObject({ state: 'degraded' });
        }
        // Held still while Redis comes back, so that the newer snapshot is there before it reconnects
        // (its connection is to the killed server, whether it has noticed yet or not), whatever the load.
        process.kill(gateway.pid, 'SIGSTOP');
        let planted: Record<string, string>;
        try {
          await redis.start();
          // A newer replica, first back, snapshots at the head of the stream (where this gateway is too when idle).
          const [head] = await client.xrevrange(`${prefix}learning:stream`, '+', '-', 'COUNT', 1);
          await client.hset(snapshotKey, 'id', head![0], 'state', JSON.stringify({ version: 3, stats: { learnt: SECRET } }));
          planted = await client.hgetall(snapshotKey);
        } finally {
          process.kill(gateway.pid, 'SIGCONT');
        }

        await until('the newer format is reported', async () => (await figures(gateway)).newerFormat === 3);
        await until('the gateway is back on the shared log', async () => {
          const { learning } = await figures(gateway);
          return learning.state === 'ok' && learning.buffered === 0;
        });
        // It goes on serving and learning (each chat appended once), and through several snapshot intervals the newer snapshot stays.
        expect(await chatOn(gateway, 0, 'after the outage')).not.toBeNull();
        await until('every chat counted once', async () => (await pulls(gateway)) === (outage === 'buffering' ? 3 : 2));
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(await client.hgetall(snapshotKey)).toEqual(planted);
      } finally {
        expect(await gateway.stop()).toBe(0);
      }
      // A stop snapshots too: still the newer one.
      expect((await client.hgetall(snapshotKey)).state).toContain(SECRET);
      const warned = gateway.logs.filter((line) => line.msg?.startsWith('the shared learning snapshot is of a newer format'));
      expect(warned).toHaveLength(1);
      expect(JSON.stringify(gateway.logs)).not.toContain(SECRET);
    }, 90_000);
  }
});
