/**
 * Cache hits through the real gateway over graphql-ws: time to first chunk and throughput for
 * (a) L1 hits, (b) L2 hits (a second gateway instance sharing a redis-server this bench starts;
 * every prompt it is asked was stored by the first instance and never seen by the second, so each
 * lookup misses its L1 and is answered by Redis), against (c) a live zero-latency simulated model
 * with the cache bypassed (`cache: false`). Same process, same client code, same query.
 *
 * Streaming pacing is disabled (`streaming.pacing.maxMs: 0`): a cached answer is otherwise
 * replayed at the speed of the model that produced it, which is a deliberate user-facing choice
 * and would measure the pacing, not the cache.
 */
import { buildApp, type App } from '../src/app.js';
import { CacheDocument, ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { redisServerAvailable, startRedisServer, type RedisServerHandle } from '../test/helpers/redis-server.js';
import { percentile, runAtConcurrency } from './bench-kit.js';

/** Sequential chats per case for the latency figures (one in flight: no queueing in the numbers). */
const LATENCY_CHATS = 400;
/** Chats per case for throughput, CONCURRENCY in flight. */
const THROUGHPUT_CHATS = 1_500;
const CONCURRENCY = 16;
const WARMUP_CHATS = 50;

function configFor(redisUrl: string | undefined) {
  return parseConfig({
    logLevel: 'silent',
    models: [{ id: 'zero', provider: 'simulated', ttftMs: 0, tokensPerSecond: 0, errorRate: 0, answerTokens: 60 }],
    arms: [{ id: 'zero', model: 'zero' }],
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    redis: { url: redisUrl, keyPrefix: 'bench:' },
    // Large enough that nothing the bench stores is evicted by size or count.
    cache: { l1: { maxEntries: 100_000 } },
  });
}

interface Instance {
  readonly app: App;
  readonly client: SwitchyardClient;
  close(): Promise<void>;
}

async function startInstance(redisUrl: string | undefined): Promise<Instance> {
  const app = buildApp({ config: configFor(redisUrl), logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  const client = createSwitchyardClient({ url: wsUrl, lazy: false });
  return {
    app,
    client,
    async close() {
      await client.dispose();
      await app.stop();
    },
  };
}

interface ChatTiming {
  readonly ttfcMs: number;
  readonly cached: boolean;
}

/** One chat; the time from subscribing to its first chunk. */
async function timedChat(client: SwitchyardClient, content: string, cache: boolean): Promise<ChatTiming> {
  const started = performance.now();
  let ttfcMs = Number.NaN;
  let cached = false;
  for await (const result of client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content }], cache } })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    const event = result.data!.chat;
    if (event.__typename === 'ChatRoute') cached = event.cached;
    else if (event.__typename === 'ChatChunk' && Number.isNaN(ttfcMs)) ttfcMs = performance.now() - started;
    else if (event.__typename === 'ChatError') throw new Error(`chat failed: ${event.code} ${event.message}`);
  }
  return { ttfcMs, cached };
}

interface CaseFigures {
  readonly name: string;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

/**
 * `prompt(phase, i)` names the prompt of the i-th chat of a phase; `expectCached` is checked on
 * every chat so that a figure can never silently measure the wrong path.
 */
async function measure(
  name: string,
  client: SwitchyardClient,
  prompt: (phase: 'latency' | 'throughput', i: number) => string,
  cache: boolean,
): Promise<CaseFigures> {
  const check = (timing: ChatTiming) => {
    if (timing.cached !== cache) throw new Error(`${name}: expected cached=${cache}, got ${timing.cached}`);
    return timing;
  };
  const ttfc: number[] = [];
  for (let i = 0; i < LATENCY_CHATS; i += 1) ttfc.push(check(await timedChat(client, prompt('latency', i), cache)).ttfcMs);
  const run = await runAtConcurrency(THROUGHPUT_CHATS, CONCURRENCY, async (i) =>
    check(await timedChat(client, prompt('throughput', i), cache)),
  );
  return {
    name,
    p50: percentile(ttfc, 50),
    p99: percentile(ttfc, 99),
    perSecond: (THROUGHPUT_CHATS * 1000) / run.elapsedMs,
  };
}

function print(figures: readonly CaseFigures[], baseline: CaseFigures): void {
  const pad = (text: string, width: number) => text.padEnd(width);
  const num = (value: number, digits = 2) => value.toFixed(digits).padStart(9);
  console.log(
    `${pad('case', 34)}${'ttfc p50'.padStart(9)}${'ttfc p99'.padStart(9)}${'chats/s'.padStart(9)}` +
      `  vs live: p50 ×, p99 ×, chats/s ×`,
  );
  for (const f of figures) {
    console.log(
      `${pad(f.name, 34)}${num(f.p50)}${num(f.p99)}${num(f.perSecond, 0)}` +
        `  ${(f.p50 / baseline.p50).toFixed(2)}, ${(f.p99 / baseline.p99).toFixed(2)}, ${(f.perSecond / baseline.perSecond).toFixed(2)}`,
    );
  }
}

export async function run(): Promise<void> {
  console.log(
    `time to first chunk (ms, ${LATENCY_CHATS} sequential chats) and throughput (${THROUGHPUT_CHATS} chats, ` +
      `${CONCURRENCY} in flight); streaming pacing disabled (streaming.pacing.maxMs = 0); one 60-token answer per chat`,
  );
  const withRedis = redisServerAvailable();
  if (!withRedis) console.log('redis-server is not on PATH: the L2 case is skipped');
  let redis: RedisServerHandle | null = null;
  let first: Instance | null = null;
  let second: Instance | null = null;
  try {
    redis = withRedis ? await startRedisServer() : null;
    first = await startInstance(redis?.url);

    // Warm-up of the shared code paths (JIT, sockets) before anything is timed.
    for (let i = 0; i < WARMUP_CHATS; i += 1) await timedChat(first.client, `warm-up ${i}`, false);

    const live = await measure('(c) live model, cache bypassed', first.client, (phase, i) => `live ${phase} ${i}`, false);

    // L1: a small set of prompts, stored once, then asked again and again.
    const hot = (phase: string, i: number) => `hot question ${phase} ${i % 20}`;
    for (const phase of ['latency', 'throughput']) {
      for (let i = 0; i < 20; i += 1) await timedChat(first.client, hot(phase, i), true);
    }
    const l1 = await measure('(a) L1 hits', first.client, hot, true);

    const figures = [live, l1];
    if (redis !== null) {
      // Every prompt the second instance is asked was stored by the first, and is asked once.
      const shared = (phase: string, i: number) => `shared question ${phase} ${i}`;
      for (const [phase, count] of [['latency', LATENCY_CHATS], ['throughput', THROUGHPUT_CHATS]] as const) {
        await runAtConcurrency(count, CONCURRENCY, (i) => timedChat(first!.client, shared(phase, i), true));
      }
      const stored = (await first.app.services.cache.refreshStats()).l2.entries ?? 0;
      if (stored < LATENCY_CHATS + THROUGHPUT_CHATS) throw new Error(`only ${stored} answers reached Redis`);
      second = await startInstance(redis.url);
      const deadline = Date.now() + 10_000;
      while ((await second.client.request(CacheDocument, {})).cache.l2.status !== 'OK') {
        if (Date.now() > deadline) throw new Error('the second instance did not connect to Redis');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (let i = 0; i < WARMUP_CHATS; i += 1) await timedChat(second.client, `warm-up ${i}`, false);
      const l2 = await measure('(b) L2 hits (second instance)', second.client, shared, true);
      const l2Stats = second.app.services.cache.stats().l2;
      if (l2Stats.hits !== LATENCY_CHATS + THROUGHPUT_CHATS) throw new Error(`expected only L2 hits, got ${l2Stats.hits}`);
      figures.push(l2);
    }
    print(figures, live);
  } finally {
    await second?.close();
    await first?.close();
    await redis?.stop();
  }
}
