/**
 * /v1/chat/completions through Switchyard against reading the same fake OpenAI upstream directly,
 * and against the GraphQL `chat` subscription (graphql-ws) through the same gateway. Same process,
 * same upstream script (60 tokens, no delays), same prompt shape: the differences are what the
 * gateway adds per chat. A second gateway with a client key and all four limits (in memory) shows
 * what authentication and limits cost.
 */
import { print } from 'graphql';
import { buildApp, type App } from '../src/app.js';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { percentile, runAtConcurrency } from './bench-kit.js';

const CHATS = 800;
const ROUNDS = 8;
const CONCURRENCY = [1, 16];
const TOKENS = Array.from({ length: 60 }, (_, i) => ` token${i}`);
const KEY = 'sk-bench-0123456789abcdef';

async function readStream(url: string, body: unknown, key?: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  const text = await response.text();
  if (body && (body as { stream?: boolean }).stream && !text.endsWith('data: [DONE]\n\n')) throw new Error('stream did not end with [DONE]');
}

async function chatOverWs(client: SwitchyardClient, i: number): Promise<void> {
  for await (const result of client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content: `benchmark question ${i}` }], cache: false },
  })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
  }
}

function gatewayConfig(upstreamUrl: string, withKey: boolean) {
  return parseConfig({
    logLevel: 'silent',
    models: [{ id: 'up', provider: 'openai', baseUrl: upstreamUrl, model: 'fake', inputPer1k: 0.001, outputPer1k: 0.002 }],
    arms: [{ id: 'up', model: 'up' }],
    cache: { enabled: false },
    shadow: { rate: 0 },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    ...(withKey
      ? {
          auth: {
            keys: [
              {
                id: 'bench',
                env: 'BENCH_KEY',
                limits: { requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000, concurrentStreams: 10_000, budgetUsdPerDay: 1_000_000 },
              },
            ],
          },
        }
      : {}),
  });
}

export async function run(): Promise<void> {
  const upstream = await startFakeOpenAI({ script: { tokens: TOKENS } });
  const apps: App[] = [];
  const start = async (withKey: boolean) => {
    const app = buildApp({ config: gatewayConfig(upstream.url, withKey), logger: createLogger('silent'), env: { BENCH_KEY: KEY } });
    apps.push(app);
    const { url, wsUrl } = await app.start(0, '127.0.0.1');
    return { v1: url.replace(/\/graphql$/, '/v1'), wsUrl };
  };
  const open = await start(false);
  const keyed = await start(true);
  const ws = createSwitchyardClient({ url: open.wsUrl, lazy: false });
  const body = (i: number, stream: boolean) => ({
    model: stream ? 'switchyard/auto' : 'up',
    messages: [{ role: 'user', content: `benchmark question ${i}` }],
    stream,
    switchyard: { cache: false },
  });
  const upstreamBody = (i: number) => ({ model: 'fake', messages: [{ role: 'user', content: `benchmark question ${i}` }], stream: true });

  const paths: Array<[string, (i: number) => Promise<void>]> = [
    ['upstream directly (stream)', (i) => readStream(`${upstream.url}/chat/completions`, upstreamBody(i))],
    ['/v1 stream', (i) => readStream(`${open.v1}/chat/completions`, body(i, true))],
    ['/v1 whole', (i) => readStream(`${open.v1}/chat/completions`, body(i, false))],
    ['/v1 stream, key + 4 limits', (i) => readStream(`${keyed.v1}/chat/completions`, body(i, true), KEY)],
    ['GraphQL chat over graphql-ws', (i) => chatOverWs(ws, i)],
  ];
  console.log(`${CHATS} chats per path and concurrency; upstream: ${TOKENS.length} tokens, no delays; ${print(ChatDocument).length}-char GraphQL query`);
  try {
    for (const [, task] of paths) await runAtConcurrency(150, 8, task); // warm JIT and connections
    for (const concurrency of CONCURRENCY) {
      // Paths take turns in rounds, so that load from outside the bench falls on all of them alike.
      const durations = paths.map(() => [] as number[]);
      const elapsed = paths.map(() => 0);
      for (let round = 0; round < ROUNDS; round++) {
        for (const [index, [, task]] of paths.entries()) {
          const run = await runAtConcurrency(CHATS / ROUNDS, concurrency, task);
          durations[index]!.push(...run.durationsMs);
          elapsed[index]! += run.elapsedMs;
        }
      }
      const results = paths.map(([name], i) => ({
        name,
        p50: percentile(durations[i]!, 50),
        p99: percentile(durations[i]!, 99),
        perSecond: (CHATS * 1000) / elapsed[i]!,
      }));
      const base = results[0]!;
      console.log(`concurrency ${concurrency}:`);
      for (const r of results) {
        console.log(
          `  ${r.name.padEnd(30)} p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  ` +
            `${r.perSecond.toFixed(0).padStart(5)} chats/s  added p50 ${(r.p50 - base.p50).toFixed(2).padStart(6)} ms`,
        );
      }
    }
  } finally {
    await ws.dispose();
    for (const app of apps) await app.stop();
    await upstream.close();
  }
}
