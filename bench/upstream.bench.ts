/**
 * Switchyard streaming from a local OpenAI-format server versus a client reading that same server
 * directly (undici with a keep-alive pool + the repo's SSE parser). Same server, same script (50
 * tokens, 20 ms to the first, 1 ms apart), concurrency 1 and 16. Prints the time to first token of
 * each (p50, p99), what Switchyard adds to it, and the throughput ratio; each figure is the median
 * over ROUNDS alternating runs, so drift on a shared machine hits both sides alike.
 *
 * Two rows per concurrency: `in process`, where the fake server, the direct reader, Switchyard and
 * its client share one event loop (each side queues behind the others' work), and `own process`,
 * where the gateway runs in a child process as deployed (the compiled build when there is one) and
 * the fake server, the direct reader and the client stay here: the gateway's loop then carries
 * only its own work, and the two processes share the machine's cores.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { buildApp } from '../src/app.js';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { parseSse } from '../src/models/sse-parser.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { median, percentile, runAtConcurrency } from './bench-kit.js';

const TOKENS = Array.from({ length: 50 }, (_, i) => ` tok${i}`);
const SCRIPT = { tokens: TOKENS, firstTokenDelayMs: 20, tokenDelayMs: 1 };
const RUNS = [
  { concurrency: 1, requests: 100 },
  { concurrency: 16, requests: 480 },
];
const ROUNDS = 3;
/**
 * Chats each side serves at the highest concurrency before anything is measured, so every pooled
 * connection is open and the JIT has settled: it takes thousands of chats (the gateway bench's
 * warm-up curve, docs/performance.md, "Fifth pass: concurrency 1"); with 64 the rounds measured
 * Switchyard's longer code path tiering up. Set UPSTREAM_WARM_UP to see a cold process.
 */
const WARM_UP = Number(process.env.UPSTREAM_WARM_UP ?? 4_000);
const GATEWAY_TARGET = fileURLToPath(new URL('./targets/upstream-gateway.mjs', import.meta.url));
const COMPILED = existsSync(fileURLToPath(new URL('../dist/app.js', import.meta.url)));

/** The gateway in a child process (see targets/upstream-gateway.mjs). */
async function startGatewayProcess(config: unknown): Promise<{ wsUrl: string; child: ChildProcess }> {
  const child = COMPILED
    ? fork(GATEWAY_TARGET, [], { stdio: 'inherit' })
    : fork(GATEWAY_TARGET, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, UPSTREAM_GATEWAY_SOURCES: '1' }, stdio: 'inherit' });
  child.send(config as never);
  const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
  return { wsUrl, child };
}

interface Timing {
  readonly ttftMs: number;
  readonly totalMs: number;
}

async function readDirect(agent: Agent, url: string, i: number): Promise<Timing> {
  const started = performance.now();
  const response = await request(`${url}/chat/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({
      model: 'bench',
      messages: [{ role: 'user', content: `benchmark question ${i}` }],
      max_tokens: 256,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  let ttftMs: number | null = null;
  let tokens = 0;
  for await (const event of parseSse(response.body as AsyncIterable<Uint8Array>)) {
    if (event.data === '[DONE]') break;
    const chunk = JSON.parse(event.data) as { choices: Array<{ delta: { content?: string } }> };
    if (chunk.choices[0]?.delta.content) {
      ttftMs ??= performance.now() - started;
      tokens++;
    }
  }
  await response.body.dump();
  if (tokens !== TOKENS.length || ttftMs === null) throw new Error(`direct read got ${tokens} tokens`);
  return { ttftMs, totalMs: performance.now() - started };
}

async function readSwitchyard(client: SwitchyardClient, i: number): Promise<Timing> {
  const started = performance.now();
  let ttftMs: number | null = null;
  let done = false;
  const variables = { input: { messages: [{ role: 'USER' as const, content: `benchmark question ${i}` }], cache: false } };
  for await (const result of client.subscribe(ChatDocument, variables)) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    const event = result.data!.chat;
    if (event.__typename === 'ChatChunk') ttftMs ??= performance.now() - started;
    if (event.__typename === 'ChatError') throw new Error(`${event.code}: ${event.message}`);
    if (event.__typename === 'ChatDone') {
      if (event.metrics.completionTokens !== TOKENS.length) throw new Error('short answer');
      done = true;
    }
  }
  if (!done || ttftMs === null) throw new Error('the chat ended without an answer');
  return { ttftMs, totalMs: performance.now() - started };
}

interface Measured {
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly totalP50: number;
  readonly tokensPerSecond: number;
}

async function measure(count: number, concurrency: number, task: (i: number) => Promise<Timing>): Promise<Measured> {
  const timings: Timing[] = [];
  const run = await runAtConcurrency(count, concurrency, async (i) => {
    timings.push(await task(i));
  });
  const ttfts = timings.map((t) => t.ttftMs);
  return {
    ttftP50: percentile(ttfts, 50),
    ttftP99: percentile(ttfts, 99),
    totalP50: percentile(timings.map((t) => t.totalMs), 50),
    tokensPerSecond: (count * TOKENS.length * 1000) / run.elapsedMs,
  };
}

export async function run(): Promise<void> {
  const fake = await startFakeOpenAI({ script: SCRIPT });
  const agent = new Agent({ connections: 64 });
  const config = {
    logLevel: 'silent',
    models: [{ id: 'local', provider: 'openai', baseUrl: fake.url, model: 'bench' }],
    arms: [{ id: 'local', model: 'local' }],
    cache: { enabled: false },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    shadow: { rate: 0 },
  };
  const app = buildApp({ config: parseConfig(config), logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  const client = createSwitchyardClient({ url: wsUrl });
  const gateway = await startGatewayProcess(config);
  const ownClient = createSwitchyardClient({ url: gateway.wsUrl });
  const placements = [
    { name: 'in process', client },
    { name: COMPILED ? 'own process' : 'own process (tsx)', client: ownClient },
  ];
  try {
    await measure(WARM_UP, 16, (i) => readDirect(agent, fake.url, i));
    for (const placement of placements) await measure(WARM_UP, 16, (i) => readSwitchyard(placement.client, i));
    console.log(`fake server: ${TOKENS.length} tokens, first after ${SCRIPT.firstTokenDelayMs} ms, then ${SCRIPT.tokenDelayMs} ms apart`);
    console.log('gateway              concurrency  requests  direct TTFT p50/p99 ms  switchyard TTFT p50/p99 ms  added TTFT p50/p99 ms  direct tok/s  switchyard tok/s  throughput ratio');
    for (const { concurrency, requests } of RUNS) {
      const rounds = placements.map(() => [] as Array<{ direct: Measured; switchyard: Measured }>);
      for (let round = 0; round < ROUNDS; round++) {
        // Each placement against a direct run just before it, in the same minutes.
        for (const [p, placement] of placements.entries()) {
          const direct = await measure(requests, concurrency, (i) => readDirect(agent, fake.url, i));
          const switchyard = await measure(requests, concurrency, (i) => readSwitchyard(placement.client, i));
          rounds[p]!.push({ direct, switchyard });
        }
      }
      for (const [p, placement] of placements.entries()) {
        const m = (pick: (r: { direct: Measured; switchyard: Measured }) => number) => median(rounds[p]!.map(pick));
        console.log(
          [
            placement.name.padEnd(19),
            String(concurrency).padStart(11),
            String(requests).padStart(9),
            `${m((r) => r.direct.ttftP50).toFixed(1)} / ${m((r) => r.direct.ttftP99).toFixed(1)}`.padStart(22),
            `${m((r) => r.switchyard.ttftP50).toFixed(1)} / ${m((r) => r.switchyard.ttftP99).toFixed(1)}`.padStart(27),
            `${m((r) => r.switchyard.ttftP50 - r.direct.ttftP50).toFixed(2)} / ${m((r) => r.switchyard.ttftP99 - r.direct.ttftP99).toFixed(2)}`.padStart(22),
            m((r) => r.direct.tokensPerSecond).toFixed(0).padStart(13),
            m((r) => r.switchyard.tokensPerSecond).toFixed(0).padStart(17),
            m((r) => r.switchyard.tokensPerSecond / r.direct.tokensPerSecond).toFixed(3).padStart(17),
          ].join(' '),
        );
      }
    }
  } finally {
    await ownClient.dispose();
    gateway.child.send('stop');
    await once(gateway.child, 'exit');
    await client.dispose();
    await app.stop();
    await agent.close();
    await fake.close();
  }
}
