/**
 * Switchyard streaming from a local OpenAI-format server versus a client reading that same server
 * directly (undici with a keep-alive pool + the repo's SSE parser). Same server, same script (50
 * tokens, 20 ms to the first, 1 ms apart), concurrency 1 and 16. Prints the time to first token of
 * each (p50, p99), what Switchyard adds to it, and the throughput ratio; each figure is the median
 * over alternating rounds (3 at c=1, 5 at c=16), so drift on a shared machine hits both sides alike;
 * each measured run is preceded by unmeasured chats that reopen the reader's upstream connections.
 *
 * A third reader is the bare relay (bare-relay.ts): bare graphql-yoga + graphql-ws relaying the
 * same server with undici and the same parser, sending events of Switchyard's shape. What it adds
 * over direct is the floor of the fixed stack (the libraries Switchyard is built on); what
 * Switchyard adds over it is Switchyard's own. Both are printed, measured in the same minutes.
 *
 * Two placements per concurrency: `in process`, where the fake server, the direct reader, the
 * servers and their clients share one event loop (each side queues behind the others' work), and
 * `own process`, where Switchyard and the relay each run in a child process as deployed
 * (Switchyard's compiled build when there is one; the relay under tsx) and the fake server, the
 * direct reader and the clients stay here: a server's loop then carries only its own work, and the
 * processes share the machine's cores. After warm-up each child does one full GC (collectGarbage).
 *
 * `UPSTREAM_PROVIDER=process` runs the fake server in a child process of its own (targets/
 * fake-provider.ts), as a real provider is. By default it shares this process's event loop with the
 * readers, so its per-token timers queue behind their work, which is heavier for the two GraphQL
 * readers than for direct: that stretches their streams and lowers their tokens/s ratio; in its own
 * process each hop through a server crosses one more process on the shared cores instead, which adds
 * to their TTFT (docs/performance.md, "Thirteenth pass").
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
import { startBareRelay } from './bare-relay.js';
import { median, percentile, runAtConcurrency } from './bench-kit.js';

const TOKENS = Array.from({ length: 50 }, (_, i) => ` tok${i}`);
export const SCRIPT = { tokens: TOKENS, firstTokenDelayMs: 20, tokenDelayMs: 1 };
/**
 * At c=16 one delay (a GC pause, a machine stall) holds all 16 chats in flight, so a p99 over one
 * round of 480 chats is its 5th slowest: one event. Five rounds pool 2,400 chats per reader, whose
 * p99 (the 24th slowest) needs more than one such batch; both it and the median of the rounds' p99s
 * are printed.
 */
const RUNS = [
  { concurrency: 1, requests: 100, rounds: 3 },
  { concurrency: 16, requests: 480, rounds: 5 },
];
/**
 * Unmeasured chats each reader serves, 16 at a time, just before each measured run: a reader idles
 * while the others run, its upstream keep-alive sockets expire, and without this its first 16 chats
 * would each open a connection (docs/performance.md, "Stop 21": that batch set most round p99s).
 * The same for direct, the relay and Switchyard.
 */
const PRE_WARM = 32;
/**
 * Chats each side serves at the highest concurrency before anything is measured, so every pooled
 * connection is open and the JIT has settled: it takes thousands of chats (the gateway bench's
 * warm-up curve, docs/performance.md, "Fifth pass: concurrency 1"); with 64 the rounds measured
 * Switchyard's longer code path tiering up. Set UPSTREAM_WARM_UP to see a cold process.
 */
export const WARM_UP = Number(process.env.UPSTREAM_WARM_UP ?? 4_000);
const GATEWAY_TARGET = fileURLToPath(new URL('./targets/upstream-gateway.mjs', import.meta.url));
const RELAY_TARGET = fileURLToPath(new URL('./targets/upstream-relay.ts', import.meta.url));
const PROVIDER_TARGET = fileURLToPath(new URL('./targets/fake-provider.ts', import.meta.url));
export const COMPILED = existsSync(fileURLToPath(new URL('../dist/app.js', import.meta.url)));

/** Switchyard's configuration: one arm on the fake server at `baseUrl`, nothing between it and the client. */
export function gatewayConfig(baseUrl: string) {
  return {
    logLevel: 'silent',
    models: [{ id: 'local', provider: 'openai', baseUrl, model: 'bench' }],
    arms: [{ id: 'local', model: 'local' }],
    cache: { enabled: false },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    shadow: { rate: 0 },
  };
}

/** A bench target in a child process, told `setup` over IPC; answers its WebSocket URL (see targets/). */
async function startTarget(child: ChildProcess, setup: unknown): Promise<{ wsUrl: string; child: ChildProcess }> {
  child.send(setup as never);
  const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
  return { wsUrl, child };
}

/** The gateway in a child process (see targets/upstream-gateway.mjs). */
/** `dist`: another compiled build's directory instead of this checkout's dist/ (scripts/profile-upstream-bench.ts's A/B). */
export function startGatewayProcess(config: unknown, dist?: string): Promise<{ wsUrl: string; child: ChildProcess }> {
  const child = dist !== undefined
    ? fork(GATEWAY_TARGET, [], { execArgv: ['--expose-gc'], env: { ...process.env, UPSTREAM_GATEWAY_DIST: dist }, stdio: 'inherit' })
    : COMPILED
    ? fork(GATEWAY_TARGET, [], { execArgv: ['--expose-gc'], stdio: 'inherit' })
    : fork(GATEWAY_TARGET, [], {
        execArgv: ['--expose-gc', '--import', 'tsx'],
        env: { ...process.env, UPSTREAM_GATEWAY_SOURCES: '1' },
        stdio: 'inherit',
      });
  return startTarget(child, config);
}

/** The bare relay in a child process (see targets/upstream-relay.ts). */
export function startRelayProcess(upstreamUrl: string): Promise<{ wsUrl: string; child: ChildProcess }> {
  return startTarget(fork(RELAY_TARGET, [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: 'inherit' }), { upstreamUrl });
}

/**
 * A full GC in a target (see targets/): after warm-up, so that the garbage its thousands of warm-up
 * chats promoted is not collected inside one of the measured runs. Without it, the first mark-compact
 * after warm-up (old generation grown to ~70 MB, nothing collected while the target idled) lands in
 * whichever run comes first at c=16, in the relay as in Switchyard (docs/performance.md, "Ninth pass").
 */
export async function collectGarbage(child: ChildProcess): Promise<void> {
  const answer = once(child, 'message');
  child.send('gc');
  const [{ collected }] = (await answer) as [{ collected: boolean }];
  if (!collected) throw new Error('the target was not started with --expose-gc');
}

export async function stopTarget(child: ChildProcess): Promise<void> {
  child.send('stop');
  await once(child, 'exit');
}

interface Timing {
  readonly ttftMs: number;
  readonly totalMs: number;
}

export async function readDirect(agent: Agent, url: string, i: number): Promise<Timing> {
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

/** One chat subscription, through Switchyard or the bare relay (the same document and events). */
export async function readChat(client: SwitchyardClient, i: number): Promise<Timing> {
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
  readonly ttfts: readonly number[];
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly totalP50: number;
  readonly tokensPerSecond: number;
}

async function measure(count: number, concurrency: number, task: (i: number) => Promise<Timing>): Promise<Measured> {
  await runAtConcurrency(PRE_WARM, 16, (i) => task(count + i));
  const timings: Timing[] = [];
  const run = await runAtConcurrency(count, concurrency, async (i) => {
    timings.push(await task(i));
  });
  const ttfts = timings.map((t) => t.ttftMs);
  return {
    ttfts,
    ttftP50: percentile(ttfts, 50),
    ttftP99: percentile(ttfts, 99),
    totalP50: percentile(timings.map((t) => t.totalMs), 50),
    tokensPerSecond: (count * TOKENS.length * 1000) / run.elapsedMs,
  };
}

interface Round {
  readonly direct: Measured;
  readonly relay: Measured;
  readonly switchyard: Measured;
}

/** The three comparisons of a placement: each server against direct, and Switchyard against the relay. */
const COMPARISONS: ReadonlyArray<{ name: string; server: (r: Round) => Measured; baseline: (r: Round) => Measured }> = [
  { name: 'Switchyard ÷ direct', server: (r) => r.switchyard, baseline: (r) => r.direct },
  { name: 'bare relay ÷ direct', server: (r) => r.relay, baseline: (r) => r.direct },
  { name: 'Switchyard ÷ bare relay', server: (r) => r.switchyard, baseline: (r) => r.relay },
];

const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`;

function printRows(placement: string, concurrency: number, requests: number, rounds: readonly Round[]): void {
  for (const { name, server, baseline } of COMPARISONS) {
    const m = (pick: (r: Round) => number) => median(rounds.map(pick));
    const addedP50 = (r: Round) => server(r).ttftP50 - baseline(r).ttftP50;
    const ratio = (r: Round) => server(r).tokensPerSecond / baseline(r).tokensPerSecond;
    const pooledP99 = (pick: (r: Round) => Measured) => percentile(rounds.flatMap((r) => pick(r).ttfts), 99);
    console.log(
      [
        placement.padEnd(19),
        String(concurrency).padStart(2),
        String(requests).padStart(8),
        name.padEnd(23),
        `${m((r) => baseline(r).ttftP50).toFixed(1)} / ${m((r) => baseline(r).ttftP99).toFixed(1)}`.padStart(21),
        `${m((r) => server(r).ttftP50).toFixed(1)} / ${m((r) => server(r).ttftP99).toFixed(1)}`.padStart(19),
        `${signed(m(addedP50))} / ${signed(m((r) => server(r).ttftP99 - baseline(r).ttftP99))}`.padStart(18),
        `(${rounds.map((r) => signed(addedP50(r))).join(', ')})`.padEnd(24),
        m((r) => baseline(r).tokensPerSecond).toFixed(0).padStart(14),
        m((r) => server(r).tokensPerSecond).toFixed(0).padStart(12),
        m(ratio).toFixed(3).padStart(6),
        `(${rounds.map((r) => ratio(r).toFixed(3)).join(', ')})`.padEnd(8 * rounds.length),
        `${signed(pooledP99(server) - pooledP99(baseline))}`.padStart(8),
      ].join(' '),
    );
  }
}

/** The fake server in a child process (targets/fake-provider.ts), with the same face as startFakeOpenAI's. */
export async function startProviderProcess(): Promise<{ url: string; close(): Promise<void> }> {
  const child = fork(PROVIDER_TARGET, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  child.send({ script: SCRIPT });
  const [{ url }] = (await once(child, 'message')) as [{ url: string }];
  return { url, close: () => stopTarget(child) };
}

export async function run(): Promise<void> {
  const providerProcess = process.env.UPSTREAM_PROVIDER === 'process';
  const fake = providerProcess ? await startProviderProcess() : await startFakeOpenAI({ script: SCRIPT });
  const agent = new Agent({ connections: 64 });
  const config = gatewayConfig(fake.url);
  const app = buildApp({ config: parseConfig(config), logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  const relay = await startBareRelay(fake.url);
  const gateway = await startGatewayProcess(config);
  const relayProcess = await startRelayProcess(fake.url);
  const clients = [wsUrl, relay.wsUrl, gateway.wsUrl, relayProcess.wsUrl].map((url) => createSwitchyardClient({ url }));
  const [client, relayClient, ownClient, ownRelayClient] = clients as [SwitchyardClient, SwitchyardClient, SwitchyardClient, SwitchyardClient];
  const placements = [
    { name: 'in process', switchyard: client, relay: relayClient },
    { name: COMPILED ? 'own process' : 'own process (tsx)', switchyard: ownClient, relay: ownRelayClient },
  ];
  try {
    await measure(WARM_UP, 16, (i) => readDirect(agent, fake.url, i));
    for (const c of clients) await measure(WARM_UP, 16, (i) => readChat(c, i));
    // Only the own-process targets: the in-process servers share this process, which has no gc().
    await collectGarbage(gateway.child);
    await collectGarbage(relayProcess.child);
    console.log(
      `fake server (${providerProcess ? 'its own process' : 'this process'}): ${TOKENS.length} tokens, ` +
        `first after ${SCRIPT.firstTokenDelayMs} ms, then ${SCRIPT.tokenDelayMs} ms apart`,
    );
    console.log(`each figure: the median of the rounds (each round's added TTFT p50 and ratio in brackets); before each`);
    console.log(`measured run ${PRE_WARM} unmeasured chats, 16 at a time; last column: added p99 of all rounds' chats pooled`);
    console.log(
      'placement           c requests server ÷ baseline        baseline TTFT p50/p99 server TTFT p50/p99 added TTFT p50/p99 (rounds)' +
        '                  baseline tok/s server tok/s  ratio (rounds)',
    );
    for (const { concurrency, requests, rounds: roundCount } of RUNS) {
      const rounds = placements.map(() => [] as Round[]);
      for (let round = 0; round < roundCount; round++) {
        // Each placement's three readers in the same minutes: direct first, then the two servers,
        // in turn first, so a drift in load does not favour one of them.
        for (const [p, placement] of placements.entries()) {
          const direct = await measure(requests, concurrency, (i) => readDirect(agent, fake.url, i));
          const first = round % 2 === 0 ? placement.relay : placement.switchyard;
          const second = round % 2 === 0 ? placement.switchyard : placement.relay;
          const a = await measure(requests, concurrency, (i) => readChat(first, i));
          const b = await measure(requests, concurrency, (i) => readChat(second, i));
          rounds[p]!.push(round % 2 === 0 ? { direct, relay: a, switchyard: b } : { direct, relay: b, switchyard: a });
        }
      }
      for (const [p, placement] of placements.entries()) printRows(placement.name, concurrency, requests, rounds[p]!);
    }
  } finally {
    for (const c of clients) await c.dispose();
    await stopTarget(gateway.child);
    await stopTarget(relayProcess.child);
    await relay.close();
    await app.stop();
    await agent.close();
    await fake.close();
  }
}
