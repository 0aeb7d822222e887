/**
 * The figures of docs/reliability.md for the capacity rows, against real gateway processes:
 * - `metrics(intervalMs: 250)` subscriptions (10 on one socket, 100 over 5): the gateway's CPU and
 *   `/livez` latency p99 while they run, after traffic in 30 contexts (P(best) per context).
 * - 6,000 concurrent chats to a slow OpenAI-format upstream (2 s to the first token): how many are
 *   shed, the time to route of those admitted and to refusal of the rest, the gateway's peak RSS.
 * `npm run bench -- reliability`. Figures depend on the machine; read them as orders of magnitude.
 */
import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../test/helpers/switchyard-process.js';
import { testConfigInput } from '../test/helpers/gateway.js';
import { percentile } from './bench-kit.js';

const CHAT = `subscription Chat($input: ChatInput!) {
  chat(input: $input) { __typename ... on ChatError { code } }
}`;

function wsClient(url: string): Client {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** /livez every 100 ms for `ms`: its latencies, and the gateway's CPU share meanwhile. */
async function probe(gateway: SwitchyardProcess, ms: number): Promise<{ p50: number; p99: number; cpu: number }> {
  const latencies: number[] = [];
  const ticks = cpuTicks(gateway.pid);
  const started = performance.now();
  while (performance.now() - started < ms) {
    const t0 = performance.now();
    await fetch(new URL('/livez', gateway.url)).then((r) => r.arrayBuffer());
    latencies.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cpu = (cpuTicks(gateway.pid) - ticks) / 100 / ((performance.now() - started) / 1000);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpu };
}

async function chat(client: Client, content: string, tags?: string[]): Promise<void> {
  await new Promise<void>((resolve) =>
    client.subscribe(
      { query: CHAT, variables: { input: { messages: [{ role: 'USER', content }], tags, cache: false } } },
      { next: () => undefined, error: () => resolve(), complete: () => resolve() },
    ),
  );
}

async function metricsSubscriptions(): Promise<void> {
  const gateway = await spawnSwitchyard({ config: { ...testConfigInput(), logLevel: 'warn', shadow: { rate: 0 } } });
  try {
    const warm = wsClient(gateway.wsUrl);
    for (let i = 0; i < 300; i++) await chat(warm, `question ${i}`, [`topic-${i % 30}`]);
    await warm.dispose();
    const idle = await probe(gateway, 5_000);
    console.log(`idle: /livez p50 ${idle.p50.toFixed(1)} ms, p99 ${idle.p99.toFixed(1)} ms, CPU ${(idle.cpu * 100).toFixed(0)}%`);
    for (const [count, sockets] of [
      [10, 1],
      [100, 5],
    ] as const) {
      const clients = Array.from({ length: sockets }, () => wsClient(gateway.wsUrl));
      let snapshots = 0;
      const stops = Array.from({ length: count }, (_, i) =>
        clients[i % sockets]!.subscribe(
          { query: 'subscription { metrics(intervalMs: 250) { generatedAt contexts { context arms { arm bandit { probabilityBest } } } } }' },
          { next: () => void (snapshots += 1), error: () => undefined, complete: () => undefined },
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const before = snapshots;
      const measured = await probe(gateway, 15_000);
      console.log(
        `${count} metrics(250 ms) subscriptions on ${sockets} socket(s): /livez p50 ${measured.p50.toFixed(1)} ms, p99 ${measured.p99.toFixed(1)} ms, ` +
          `gateway CPU ${(measured.cpu * 100).toFixed(0)}%, ${((snapshots - before) / 15 / count).toFixed(1)} snapshots/s per subscriber`,
      );
      stops.forEach((stop) => stop());
      await Promise.all(clients.map((c) => c.dispose()));
    }
  } finally {
    await gateway.stop();
  }
}

async function overload(): Promise<void> {
  const CHATS = 6_000;
  const SOCKETS = 60;
  const fake = await startFakeOpenAI({ script: { firstTokenDelayMs: 2_000, tokens: Array.from({ length: 20 }, (_, i) => ` w${i}`), tokenDelayMs: 100 } });
  const timeouts = { connectMs: 10_000, firstTokenMs: 60_000, idleMs: 60_000, totalMs: 300_000 };
  const gateway = await spawnSwitchyard({
    config: {
      logLevel: 'warn',
      models: [
        { id: 'slow', provider: 'openai', baseUrl: fake.url, model: 'slow', timeouts },
      ],
      arms: [{ id: 'slow', model: 'slow' }],
      shadow: { rate: 0 },
      cache: { enabled: false },
      capacity: { maxConnectionsPerClient: SOCKETS },
    },
  });
  try {
    const clients = Array.from({ length: SOCKETS }, () => wsClient(gateway.wsUrl));
    await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.on('connected', () => resolve()))));
    let peakRss = rssMb(gateway.pid);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(gateway.pid))), 250);
    const admitted: number[] = [];
    const refused: number[] = [];
    const finished: number[] = [];
    const otherCodes = new Map<string, number>();
    const started = performance.now();
    await Promise.all(
      Array.from(
        { length: CHATS },
        (_, i) =>
          new Promise<void>((resolve) => {
            const t0 = performance.now();
            let first = true;
            clients[i % SOCKETS]!.subscribe<{ chat: { __typename: string; code?: string } }>(
              { query: CHAT, variables: { input: { messages: [{ role: 'USER', content: `chat ${i}` }], cache: false } } },
              {
                next: (result) => {
                  // A refusal at subscribe comes as a result with errors, then complete.
                  const refusal = (result.errors?.[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;
                  if (refusal === 'OVERLOADED') refused.push(performance.now() - t0);
                  else if (refusal) otherCodes.set(refusal, (otherCodes.get(refusal) ?? 0) + 1);
                  if (first && result.data?.chat.__typename === 'ChatRoute') admitted.push(performance.now() - t0);
                  first = false;
                  if (result.data?.chat.__typename === 'ChatDone') finished.push(performance.now() - t0);
                  if (result.data?.chat.__typename === 'ChatError') otherCodes.set(result.data.chat.code!, (otherCodes.get(result.data.chat.code!) ?? 0) + 1);
                },
                error: (errors) => {
                  const code = Array.isArray(errors) ? (errors[0] as { extensions?: { code?: string } }).extensions?.code : 'TRANSPORT';
                  if (code === 'OVERLOADED') refused.push(performance.now() - t0);
                  else otherCodes.set(code ?? 'NONE', (otherCodes.get(code ?? 'NONE') ?? 0) + 1);
                  resolve();
                },
                complete: () => resolve(),
              },
            );
          }),
      ),
    );
    clearInterval(sampler);
    console.log(
      `${CHATS} concurrent chats, first token after 2 s: ${admitted.length} admitted (time to route p50 ${percentile(admitted, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(admitted, 99).toFixed(0)} ms; ChatDone ${finished.length}, p99 ${percentile(finished, 99).toFixed(0)} ms), ` +
        `${refused.length} shed with OVERLOADED (${((refused.length / CHATS) * 100).toFixed(1)}%, time to refusal p99 ${percentile(refused, 99).toFixed(0)} ms), ` +
        `other outcomes ${JSON.stringify(Object.fromEntries(otherCodes))}; peak RSS ${peakRss.toFixed(0)} MB; all settled in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    await Promise.all(clients.map((c) => c.dispose()));
  } finally {
    await gateway.stop();
    await fake.close();
  }
}

/** RELIABILITY_PART=metrics or overload runs one part. */
export async function run(): Promise<void> {
  const part = process.env.RELIABILITY_PART;
  if (part !== 'overload') await metricsSubscriptions();
  if (part !== 'metrics') await overload();
}
