/**
 * Chat subscriptions through Switchyard (routing, chunking, learning) with zero-latency simulated
 * models, against a bare graphql-yoga + graphql-ws server that serves the same schema and yields
 * the same events. Same process, same client, same query: the ratio is what Switchyard's own work
 * costs per chat. Run with 1 arm and with 4 (routing cost grows with the arms), at concurrency 1
 * and 16; each figure is the median of ROUNDS alternating runs, so drift on a shared machine hits
 * both sides alike.
 */
import { print } from 'graphql';
import { buildApp } from '../src/app.js';
import { ChatDocument, type ChatSubscription } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { startBareServer } from './bare-server.js';
import { median, runAtConcurrency, summarize } from './bench-kit.js';

const CHATS = 400;
const CONCURRENCY = [1, 16];
const ARMS = [1, 4];
const ROUNDS = 7;
/**
 * Chats each server serves at concurrency 16 before anything is measured. The JIT takes thousands
 * of chats to settle: at c=1 after 200 chats Switchyard cost ~1,400 µs of CPU per chat and came
 * down to ~310 only after ~5,500 (bare yoga ~1,000 → ~275 after ~3,000), so with a short warm-up
 * the c=1 rounds, which run first, measured tiering up, mostly of Switchyard's longer code path
 * (docs/performance.md, "Fifth pass: concurrency 1"). Served in WARM_UP_BLOCK blocks so the first
 * and last block's cost is printed: what a freshly started process pays on top.
 */
export const WARM_UP_CHATS = 6_000;
const WARM_UP_BLOCK = 500;

export function configWithArms(arms: number) {
  const ids = Array.from({ length: arms }, (_, i) => `zero-${i}`);
  return parseConfig({
    logLevel: 'silent',
    models: ids.map((id) => ({ id, provider: 'simulated', ttftMs: 0, tokensPerSecond: 0, errorRate: 0, answerTokens: 60 })),
    arms: ids.map((id) => ({ id, model: id })),
    cache: { enabled: false },
    // A fixed chunk size, so every chat has the same events as the bare server's whatever the
    // router's confidence: the comparison is per identical event stream.
    streaming: { minWords: 20, maxWords: 20, pacing: { minMs: 0, maxMs: 0 } },
    shadow: { rate: 0 },
  });
}

const variables = (i: number) => ({
  input: { messages: [{ role: 'USER' as const, content: `benchmark question ${i}` }], cache: false },
});

/**
 * A run's rate and its process CPU per chat. The CPU figure moves far less with the other
 * processes of a shared machine than the rate does (they take wall time, not this process's CPU),
 * so its ratio says what Switchyard's own work costs when the rate's ratio is noisy.
 */
async function timedRun(run: () => ReturnType<typeof runAtConcurrency>) {
  const cpu = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(cpu);
  return { ...summarize(result), cpuUsPerChat: (used.user + used.system) / result.durationsMs.length };
}

export async function chatOnce(client: SwitchyardClient, i: number): Promise<ChatSubscription['chat'][]> {
  const events: ChatSubscription['chat'][] = [];
  for await (const result of client.subscribe(ChatDocument, variables(i))) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data!.chat);
  }
  return events;
}

/** Serves WARM_UP_CHATS chats (JIT, connection); the CPU per chat of the first and the last block. */
async function warmUp(client: SwitchyardClient): Promise<{ first: number; last: number }> {
  let first = 0;
  let last = 0;
  for (let served = 0; served < WARM_UP_CHATS; served += WARM_UP_BLOCK) {
    const { cpuUsPerChat } = await timedRun(() => runAtConcurrency(WARM_UP_BLOCK, 16, (i) => chatOnce(client, i)));
    if (served === 0) first = cpuUsPerChat;
    last = cpuUsPerChat;
  }
  return { first, last };
}

export interface ServerPair {
  readonly switchyard: SwitchyardClient;
  readonly bareClient: SwitchyardClient;
  /** The events of one Switchyard chat, which the bare server yields for every chat. */
  readonly sample: ChatSubscription['chat'][];
  close(): Promise<void>;
}

/** Switchyard with `arms` arms and the bare server serving the events of one of its chats, each with a client. */
export async function startServerPair(arms: number): Promise<ServerPair> {
  const app = buildApp({ config: configWithArms(arms), logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  const switchyard = createSwitchyardClient({ url: wsUrl, lazy: false });
  const sample = await chatOnce(switchyard, -1);
  const bare = await startBareServer(async function* () {
    for (const event of sample) yield { chat: event };
  });
  const bareClient = createSwitchyardClient({ url: bare.wsUrl, lazy: false });
  return {
    switchyard,
    bareClient,
    sample,
    async close() {
      await bareClient.dispose();
      await switchyard.dispose();
      await bare.close();
      await app.stop();
    },
  };
}

async function compare(arms: number): Promise<void> {
  const pair = await startServerPair(arms);
  const { switchyard, bareClient, sample } = pair;
  console.log(
    `${arms} arm(s): ${CHATS} chats per run, ${sample.length} events per chat ` +
      `(route, ${sample.length - 2} chunks, done); query: ${print(ChatDocument).length} chars`,
  );
  try {
    const bareWarmUp = await warmUp(bareClient);
    const yardWarmUp = await warmUp(switchyard);
    console.log(
      `  warm-up, ${WARM_UP_CHATS} chats at concurrency 16, CPU per chat of the first and last ${WARM_UP_BLOCK}: ` +
        `bare ${bareWarmUp.first.toFixed(0)} → ${bareWarmUp.last.toFixed(0)} µs | ` +
        `Switchyard ${yardWarmUp.first.toFixed(0)} → ${yardWarmUp.last.toFixed(0)} µs`,
    );
    for (const concurrency of CONCURRENCY) {
      const bareRates: number[] = [];
      const yardRates: number[] = [];
      const ratios: number[] = [];
      const yardP50s: number[] = [];
      const bareP50s: number[] = [];
      const bareCpu: number[] = [];
      const yardCpu: number[] = [];
      const cpuRatios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const bareRun = await timedRun(() => runAtConcurrency(CHATS, concurrency, (i) => chatOnce(bareClient, i)));
        const yardRun = await timedRun(() => runAtConcurrency(CHATS, concurrency, (i) => chatOnce(switchyard, i)));
        bareRates.push(bareRun.perSecond);
        yardRates.push(yardRun.perSecond);
        bareP50s.push(bareRun.p50);
        yardP50s.push(yardRun.p50);
        ratios.push(yardRun.perSecond / bareRun.perSecond);
        bareCpu.push(bareRun.cpuUsPerChat);
        yardCpu.push(yardRun.cpuUsPerChat);
        cpuRatios.push(bareRun.cpuUsPerChat / yardRun.cpuUsPerChat);
      }
      console.log(
        `  concurrency ${String(concurrency).padStart(2)}: bare yoga ${median(bareRates).toFixed(0)} chats/s ` +
          `(p50 ${median(bareP50s).toFixed(2)} ms) | Switchyard ${median(yardRates).toFixed(0)} chats/s ` +
          `(p50 ${median(yardP50s).toFixed(2)} ms) | ratio Switchyard/bare ${median(ratios).toFixed(2)} ` +
          `(rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      );
      console.log(
        `                  CPU per chat (process, client included): bare ${median(bareCpu).toFixed(0)} µs | ` +
          `Switchyard ${median(yardCpu).toFixed(0)} µs | chats per CPU-second Switchyard/bare ${median(cpuRatios).toFixed(2)} ` +
          `(rounds ${cpuRatios.map((r) => r.toFixed(2)).join(', ')})`,
      );
    }
  } finally {
    await pair.close();
  }
}

export async function run(): Promise<void> {
  for (const arms of ARMS) await compare(arms);
}
