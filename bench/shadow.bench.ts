/**
 * What shadow routing costs the primary stream: time to first chunk and total latency of chats
 * (p50, p99) with 0%, 30% and 100% of requests shadowed, in one process, one gateway, one client.
 * Two model regimes: simulated models with small realistic latencies (the shadow call mostly
 * waits, as a real provider call does), and zero-latency models (the shadow call is pure CPU on the
 * same event loop: the worst case). Ratios are against 0% measured in the same run.
 */
import { buildApp } from '../src/app.js';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { percentile, runAtConcurrency } from './bench-kit.js';

const RATES = [0, 0.3, 1];
const CONCURRENCY = 8;
const ROUNDS = 4;

interface Regime {
  readonly name: string;
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  readonly chats: number;
}

const REGIMES: Regime[] = [
  { name: 'realistic (TTFT 40 ms, 400 tok/s, 40 tokens)', ttftMs: 40, tokensPerSecond: 400, chats: 240 },
  { name: 'zero-latency (CPU-bound worst case)', ttftMs: 0, tokensPerSecond: 0, chats: 1_200 },
];

function configFor(regime: Regime) {
  const model = (id: string, quality: number) => ({
    id,
    provider: 'simulated',
    ttftMs: regime.ttftMs,
    tokensPerSecond: regime.tokensPerSecond,
    errorRate: 0,
    quality,
    inputPer1k: 0.001,
    outputPer1k: 0.002,
    answerTokens: 40,
  });
  return parseConfig({
    logLevel: 'silent',
    models: [model('m-a', 0.5), model('m-b', 0.6), model('m-c', 0.7)],
    arms: [
      { id: 'a', model: 'm-a' },
      { id: 'b', model: 'm-b' },
      { id: 'c', model: 'm-c' },
    ],
    cache: { enabled: false },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    shadow: { rate: 0, maxConcurrent: 1_000, budgetUsdPerMinute: 1_000, seed: 1 },
    bandit: { seed: 1 },
  });
}

interface Timing {
  firstChunkMs: number;
  totalMs: number;
}

async function chatOnce(client: SwitchyardClient, i: number): Promise<Timing> {
  const started = performance.now();
  let firstChunkMs = Number.NaN;
  for await (const result of client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content: `shadow bench question ${i}` }], cache: false },
  })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    if (Number.isNaN(firstChunkMs) && result.data!.chat.__typename === 'ChatChunk') {
      firstChunkMs = performance.now() - started;
    }
  }
  return { firstChunkMs, totalMs: performance.now() - started };
}

async function measure(client: SwitchyardClient, chats: number, offset: number): Promise<Timing[]> {
  const timings: Timing[] = [];
  await runAtConcurrency(chats, CONCURRENCY, async (i) => timings.push(await chatOnce(client, offset + i)));
  return timings;
}

function figuresOf(timings: readonly Timing[]) {
  const first = timings.map((t) => t.firstChunkMs);
  const total = timings.map((t) => t.totalMs);
  return {
    firstP50: percentile(first, 50),
    firstP99: percentile(first, 99),
    totalP50: percentile(total, 50),
    totalP99: percentile(total, 99),
  };
}

export async function run(): Promise<void> {
  for (const regime of REGIMES) {
    const app = buildApp({ config: configFor(regime), logger: createLogger('silent'), env: {} });
    const { wsUrl } = await app.start(0, '127.0.0.1');
    const client = createSwitchyardClient({ url: wsUrl, lazy: false });
    console.log(`\n${regime.name}: ${regime.chats} chats per rate at concurrency ${CONCURRENCY}, in ${ROUNDS} rounds`);
    try {
      await measure(client, Math.min(200, regime.chats), 1_000_000); // warm-up: JIT, connection
      const waitForShadows = async () => {
        while (app.services.shadow.stats().inFlight > 0) await new Promise((r) => setTimeout(r, 5));
      };
      // Rates take turns in rounds, so drift in the machine's load spreads over all of them.
      const timings = new Map<number, Timing[]>(RATES.map((rate) => [rate, []]));
      const calls = new Map<number, number>(RATES.map((rate) => [rate, 0]));
      const perRound = regime.chats / ROUNDS;
      let offset = 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (const rate of RATES) {
          app.services.shadow.setRate(rate);
          const before = app.services.shadow.stats().calls;
          timings.get(rate)!.push(...(await measure(client, perRound, offset)));
          offset += perRound;
          await waitForShadows();
          calls.set(rate, calls.get(rate)! + app.services.shadow.stats().calls - before);
        }
      }
      const baseline = figuresOf(timings.get(0)!);
      const ratio = (value: number, base: number) => (value / base).toFixed(2);
      for (const rate of RATES) {
        const figures = figuresOf(timings.get(rate)!);
        console.log(
          `rate ${String(rate * 100).padStart(3)}%: first chunk p50 ${figures.firstP50.toFixed(2)} ms ` +
            `p99 ${figures.firstP99.toFixed(2)} ms | total p50 ${figures.totalP50.toFixed(2)} ms ` +
            `p99 ${figures.totalP99.toFixed(2)} ms | vs 0%: first p50 ×${ratio(figures.firstP50, baseline.firstP50)} ` +
            `p99 ×${ratio(figures.firstP99, baseline.firstP99)}, total p50 ×${ratio(figures.totalP50, baseline.totalP50)} ` +
            `p99 ×${ratio(figures.totalP99, baseline.totalP99)} | shadow calls ${calls.get(rate)}`,
        );
      }
    } finally {
      await client.dispose();
      await app.stop();
    }
  }
}
