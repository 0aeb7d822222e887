/**
 * `npm run soak [-- --minutes 10] [-- --no-write]`: the long fault run of issue 14. Real gateway
 * processes (`src/main.ts`) share a redis-server of the run's own and call a fake OpenAI-format
 * upstream (test/fakes/openai-server.ts) that injects errors, 429s, resets and stalls. Workers
 * run mixed chats with feedback over graphql-ws, dashboards hold `metrics` subscriptions, and
 * Redis is killed and restarted or hung (SIGSTOP) on a schedule. At the end it prints a summary
 * (memory over time, accepted feedback against what the arms show, errors by code, any uncoded
 * one) and writes it into docs/reliability.md between the soak markers. Exits 1 when feedback was
 * lost or an uncoded error was seen.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startFakeOpenAI, type FakeOpenAIScript } from '../test/fakes/openai-server.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../test/helpers/switchyard-process.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const MINUTES = option('minutes', 10);
const GATEWAYS = option('gateways', 2);
const WORKERS = option('workers', 12);
const DASHBOARDS = option('dashboards', 3);
const WRITE = !args.includes('--no-write');
/**
 * Every store that grows with traffic is bounded by a cap or a window that a 10-minute run does not
 * fill at the defaults (100,000 request records, 10,000 cache entries, an hour of analyzer buckets).
 * `--small-caps` shrinks them so they fill within the first minutes: what memory does after that is
 * what it does at steady state.
 */
const SMALL_CAPS = args.includes('--small-caps');
const durationMs = MINUTES * 60_000;
const docPath = fileURLToPath(new URL('../docs/reliability.md', import.meta.url));

/** Deterministic draws, so two runs inject the same mix. */
let seed = 20_261_201;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ` ${tag}${i}`);
/** The upstream's behaviour per call: mostly answers, sometimes each kind of fault. */
function upstreamScript(): FakeOpenAIScript {
  const draw = random();
  if (draw < 0.04) return { status: 500 };
  if (draw < 0.07) return { status: 429, retryAfter: '1' };
  if (draw < 0.1) return { tokens: words(20, 'r'), tokenDelayMs: 20, fault: { kind: 'destroy', afterTokens: 5 } };
  if (draw < 0.12) return { tokens: words(20, 's'), tokenDelayMs: 20, fault: { kind: 'stall', afterTokens: 0 } };
  if (draw < 0.14) return { tokens: words(20, 'm'), tokenDelayMs: 20, fault: { kind: 'error-object', afterTokens: 3 } };
  return { firstTokenDelayMs: 30 + random() * 100, tokens: words(10 + Math.floor(random() * 30), 'w'), tokenDelayMs: 10 + random() * 20 };
}

const CHAT = `subscription Chat($input: ChatInput!) {
  chat(input: $input) {
    __typename
    ... on ChatRoute { requestId feedbackToken arm }
    ... on ChatError { code partial }
  }
}`;
const FEEDBACK = `mutation Feedback($input: FeedbackInput!) {
  submitFeedback(input: $input) { learned score }
}`;
const METRICS = 'subscription { metrics(intervalMs: 1000) { generatedAt regret } }';
const ARMS = 'query { arms { id posterior { alpha beta } } }';

interface Tally {
  chats: number;
  done: number;
  chatErrors: Map<string, number>;
  graphqlErrors: Map<string, number>;
  uncoded: string[];
  feedbackAccepted: number;
  feedbackLearned: number;
  /** Σ score of learned feedback, per gateway: what the arms' α must have gained. */
  learnedScore: number[];
  snapshots: number;
  dashboardErrors: Map<string, number>;
}

const tally: Tally = {
  chats: 0,
  done: 0,
  chatErrors: new Map(),
  graphqlErrors: new Map(),
  uncoded: [],
  feedbackAccepted: 0,
  feedbackLearned: 0,
  learnedScore: Array.from({ length: GATEWAYS }, () => 0),
  snapshots: 0,
  dashboardErrors: new Map(),
};
const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

type GraphQLErrorLike = { message?: string; extensions?: { code?: string } };
/** A transport failure (a closed socket, a network error) in the shape of a GraphQL error, with what it was. */
function transportError(error: unknown): GraphQLErrorLike[] {
  if (Array.isArray(error)) return error as GraphQLErrorLike[];
  const close = error as { code?: number; reason?: string; message?: string };
  const detail = typeof close.code === 'number' ? `close ${close.code} ${close.reason ?? ''}`.trim() : String(close.message ?? error);
  return [{ message: `transport: ${detail}`, extensions: { code: `TRANSPORT (${detail.slice(0, 60)})` } }];
}

function noteErrors(errors: readonly GraphQLErrorLike[] | undefined, into: Map<string, number>): void {
  for (const error of errors ?? []) {
    const code = error.extensions?.code;
    if (!code || code === 'INTERNAL_SERVER_ERROR') tally.uncoded.push(error.message ?? JSON.stringify(error));
    else bump(into, code);
  }
}

function wsClient(url: string): Client {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 1_000, retryWait: async () => new Promise((r) => setTimeout(r, 500)), lazy: false, onNonLazyError: () => undefined });
}

function request<T>(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: T; errors?: GraphQLErrorLike[] }> {
  return new Promise((resolve) => {
    let result: { data?: T; errors?: GraphQLErrorLike[] } = {};
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => void (result = value as never),
        error: (error) => resolve({ errors: transportError(error) }),
        complete: () => resolve(result),
      },
    );
  });
}

const PROMPTS = Array.from({ length: 600 }, (_, i) => `Soak question ${i}: ${pick(['explain', 'translate', 'summarise', 'write code for'])} item ${i % 200}`);

async function worker(client: Client, gatewayIndex: number, until: number): Promise<void> {
  while (Date.now() < until) {
    tally.chats += 1;
    let route: { requestId: string; feedbackToken: string } | null = null;
    let ended: string | null = null;
    const outcome = await new Promise<{ errors?: GraphQLErrorLike[] }>((resolve) => {
      client.subscribe<{ chat: { __typename: string; requestId?: string; feedbackToken?: string; code?: string } }>(
        {
          query: CHAT,
          variables: { input: { messages: [{ role: 'USER', content: pick(PROMPTS) }], tags: random() < 0.5 ? [pick(['code', 'chat', 'math'])] : undefined } },
        },
        {
          next: (result) => {
            const event = result.data?.chat;
            if (result.errors) noteErrors(result.errors, tally.graphqlErrors);
            if (!event) return;
            if (event.__typename === 'ChatRoute') route = { requestId: event.requestId!, feedbackToken: event.feedbackToken! };
            else if (event.__typename === 'ChatDone') ended = 'done';
            else if (event.__typename === 'ChatError') {
              ended = 'error';
              bump(tally.chatErrors, event.code ?? 'NONE');
            }
          },
          error: (error) => resolve({ errors: transportError(error) }),
          complete: () => resolve({}),
        },
      );
    });
    noteErrors(outcome.errors, tally.graphqlErrors);
    if (ended === 'done') tally.done += 1;
    const routed = route as { requestId: string; feedbackToken: string } | null;
    if (ended === 'done' && routed && random() < 0.7) {
      const score = pick([0, 0.25, 0.5, 0.75, 1]);
      const result = await request<{ submitFeedback: { learned: boolean; score: number } }>(client, FEEDBACK, {
        input: { requestId: routed.requestId, feedbackToken: routed.feedbackToken, score },
      });
      if (result.errors) noteErrors(result.errors, tally.graphqlErrors);
      else if (result.data) {
        tally.feedbackAccepted += 1;
        if (result.data.submitFeedback.learned) {
          tally.feedbackLearned += 1;
          tally.learnedScore[gatewayIndex]! += score;
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, random() * 200));
  }
}

function rssMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of (minute, MB). */
function slopePerMinute(points: ReadonlyArray<{ t: number; mb: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mm = points.reduce((s, p) => s + p.mb, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.mb - mm), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (message: string) => console.log(`[soak ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
  const redis = await startRedisServer();
  const fake = await startFakeOpenAI({ script: () => upstreamScript() });
  const timeouts = { connectMs: 2_000, firstTokenMs: 2_000, idleMs: 2_000, totalMs: 20_000 };
  const model = (id: string, outputPer1k: number) => ({
    id,
    provider: 'openai',
    baseUrl: fake.url,
    model: `${id}-at-fake`,
    inputPer1k: outputPer1k / 2,
    outputPer1k,
    timeouts,
    circuit: { failureThreshold: 5, openMs: 2_000 },
  });
  const config = {
    logLevel: 'warn',
    models: [model('small', 0.0005), model('medium', 0.002), model('large', 0.01)],
    arms: [
      { id: 'small', model: 'small' },
      { id: 'medium', model: 'medium' },
      { id: 'large', model: 'large' },
    ],
    redis: { url: redis.url },
    // No forgetting: every learned score stays in the arms' α, so it can be counted at the end.
    bandit: { halfLife: 0, seed: 11 },
    shadow: { rate: 0.1, ...(SMALL_CAPS && { maxStoredCalls: 100 }) },
    server: { shutdownTimeoutMs: 5_000 },
    ...(SMALL_CAPS && {
      feedback: { maxRequests: 500 },
      cache: { l1: { maxEntries: 200 } },
      analyzer: { hourBucketMs: 3_600_000, disagreement: { maxEntries: 500 } },
    }),
  };
  const gateways: SwitchyardProcess[] = [];
  for (let i = 0; i < GATEWAYS; i++) gateways.push(await spawnSwitchyard({ config }));
  log(`${GATEWAYS} gateways (pids ${gateways.map((g) => g.pid).join(', ')}), redis on ${redis.port}, upstream ${fake.url}; ${MINUTES} min`);

  const until = Date.now() + durationMs;
  const memory: Array<Array<{ t: number; mb: number }>> = gateways.map(() => []);
  const sampler = setInterval(() => {
    gateways.forEach((g, i) => {
      const mb = rssMb(g.pid);
      if (mb !== null) memory[i]!.push({ t: (Date.now() - started) / 60_000, mb });
    });
  }, 5_000);

  // Dashboards: metrics subscriptions held for the whole run.
  const dashboards = gateways.map((g) => wsClient(g.wsUrl));
  const stopDashboards = dashboards.flatMap((client) =>
    Array.from({ length: DASHBOARDS }, () =>
      client.subscribe(
        { query: METRICS },
        {
          next: (result) => {
            if (result.errors) noteErrors(result.errors as GraphQLErrorLike[], tally.dashboardErrors);
            else tally.snapshots += 1;
          },
          error: (error) => noteErrors(transportError(error), tally.dashboardErrors),
          complete: () => undefined,
        },
      ),
    ),
  );

  // Faults on Redis, alternating, every 40 s: killed and restarted empty after 5 s, or hung 3 s.
  const faults: string[] = [];
  let faultRound = 0;
  const injector = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    while (Date.now() < until - 20_000) {
      if (faultRound++ % 2 === 0) {
        faults.push(`${((Date.now() - started) / 1000).toFixed(0)} s: redis killed, restarted empty 5 s later`);
        await redis.kill();
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        await redis.restart();
      } else {
        faults.push(`${((Date.now() - started) / 1000).toFixed(0)} s: redis hung (SIGSTOP) for 3 s`);
        redis.pause();
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        redis.resume();
      }
      log(faults.at(-1)!);
      await new Promise((resolve) => setTimeout(resolve, 40_000));
    }
  })();

  const progress = setInterval(() => {
    log(
      `chats ${tally.chats} (done ${tally.done}), feedback learned ${tally.feedbackLearned}, snapshots ${tally.snapshots}, ` +
        `rss ${memory.map((m) => (m.at(-1)?.mb ?? 0).toFixed(0)).join('/')} MB, uncoded ${tally.uncoded.length}`,
    );
  }, 30_000);

  const workerClients = Array.from({ length: WORKERS }, (_, i) => wsClient(gateways[i % GATEWAYS]!.wsUrl));
  await Promise.all(workerClients.map((client, i) => worker(client, i % GATEWAYS, until)));
  await injector;
  clearInterval(progress);
  clearInterval(sampler);
  stopDashboards.forEach((stop) => stop());

  // What the arms show: α gained over the prior (1 per arm) equals the learned scores (weight 1).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const armsAlpha: number[] = [];
  for (const [i] of gateways.entries()) {
    const result = await request<{ arms: Array<{ posterior: { alpha: number } }> }>(workerClients[i]!, ARMS);
    armsAlpha.push((result.data?.arms ?? []).reduce((sum, arm) => sum + arm.posterior.alpha - 1, 0));
  }
  const learnedTotal = tally.learnedScore.reduce((a, b) => a + b, 0);
  const perGateway = gateways.map((_, i) => ({ learned: tally.learnedScore[i]!, alpha: armsAlpha[i]! }));
  // Shared learning shows every gateway's feedback on each; per instance, its own.
  const lostOwn = perGateway.map((g) => Math.max(0, g.learned - g.alpha));
  const lostShared = perGateway.map((g) => Math.max(0, learnedTotal - g.alpha));
  const lost = Math.min(Math.max(...lostOwn), Math.max(...lostShared));

  await Promise.all([...workerClients, ...dashboards].map((c) => c.dispose()));
  const exitCodes: Array<number | null> = [];
  for (const g of gateways) exitCodes.push(await g.stop());
  await fake.close();
  await redis.stop();

  const warm = memory.map((m) => m.filter((p) => p.t >= 1));
  const memoryLines = warm.map((m, i) => {
    const first = m.slice(0, Math.max(1, Math.floor(m.length / 3)));
    const last = m.slice(-Math.max(1, Math.floor(m.length / 3)));
    const mean = (xs: typeof m) => xs.reduce((s, p) => s + p.mb, 0) / Math.max(1, xs.length);
    const max = Math.max(...m.map((p) => p.mb));
    return `gateway ${i}: RSS after the first minute ${mean(first).toFixed(0)} MB (first third) → ${mean(last).toFixed(0)} MB (last third), max ${max.toFixed(0)} MB, slope ${slopePerMinute(m).toFixed(2)} MB/min`;
  });
  const codes = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const summary = [
    `Run: \`npm run soak -- --minutes ${MINUTES}\`, ${new Date(started).toISOString().slice(0, 16)} UTC, ${((Date.now() - started) / 60_000).toFixed(1)} min wall, ${GATEWAYS} gateways, ${WORKERS} chat workers, ${DASHBOARDS * GATEWAYS} metrics subscriptions (1 s).`,
    `- Chats: ${tally.chats}, ${tally.done} ChatDone; ChatError by code: ${codes(tally.chatErrors)}.`,
    `- GraphQL errors by code: ${codes(tally.graphqlErrors)}; metrics subscriptions: ${tally.snapshots} snapshots, errors ${codes(tally.dashboardErrors)}.`,
    `- Uncoded errors: ${tally.uncoded.length}${tally.uncoded.length ? ` (first: ${tally.uncoded.slice(0, 3).join(' | ')})` : ''}.`,
    `- Feedback: ${tally.feedbackAccepted} accepted, ${tally.feedbackLearned} learned (Σ score ${learnedTotal.toFixed(2)}); per gateway Σ score learned ${tally.learnedScore.map((a) => a.toFixed(2)).join(' / ')}, the arms' α gained ${armsAlpha.map((a) => a.toFixed(2)).join(' / ')} → lost ${lost.toFixed(2)}.`,
    `- Redis faults: ${faults.length} (${faults.join('; ') || 'none'}). Upstream: 4% 500, 3% 429, 3% reset mid-stream, 2% stall before the first token, 2% error object mid-stream.`,
    ...memoryLines.map((line) => `- Memory, ${line}.`),
    `- Stop: exit codes ${exitCodes.join(', ')}.`,
  ].join('\n');
  console.log(`\n${summary}\n`);

  if (WRITE) {
    const doc = readFileSync(docPath, 'utf8');
    const start = '<!-- soak:start -->';
    const end = '<!-- soak:end -->';
    const block = `${start}\n${summary}\n${end}`;
    const next = doc.includes(start) ? doc.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${doc.trimEnd()}\n\n## Soak\n\n${block}\n`;
    writeFileSync(docPath, next);
    log(`summary written to ${docPath}`);
  }
  process.exit(lost > 1e-6 || tally.uncoded.length > 0 ? 1 : 0);
}

await main();
