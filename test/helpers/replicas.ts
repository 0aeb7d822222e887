import { contextChain, GLOBAL_CONTEXT } from '../../src/router/bandit.js';
import type { SwitchyardProcess } from './switchyard-process.js';

/** Helpers for tests that run several gateway processes over one Redis (not a test file itself). */

/** A configuration for replicas whose learnt state can be predicted exactly from the feedback given. */
export function replicaConfig(redisUrl: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const model = (id: string, quality: number) => ({
    id,
    provider: 'simulated',
    ttftMs: 0,
    tokensPerSecond: 0,
    errorRate: 0,
    quality,
    inputPer1k: 0,
    outputPer1k: 0,
    answerTokens: 8,
  });
  return {
    logLevel: 'warn',
    models: [model('m-weak', 0.3), model('m-fair', 0.5), model('m-best', 0.9)],
    arms: [
      { id: 'weak', model: 'm-weak' },
      { id: 'fair', model: 'm-fair' },
      { id: 'best', model: 'm-best' },
    ],
    // No forgetting and no borrowing between contexts: the posterior in a context is the prior plus
    // the scores given there, so it can be checked exactly.
    bandit: { halfLife: 0, hierarchyStrength: 0 },
    cache: { enabled: false },
    shadow: { rate: 0 },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    // A loaded test machine can be slower than the default 250 ms per command.
    redis: { url: redisUrl, commandTimeoutMs: 2_000 },
    learning: { snapshotIntervalMs: 500 },
    ...overrides,
  };
}

export async function graphql<T = any>(
  process: SwitchyardProcess,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> }> {
  const response = await fetch(process.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

export interface Served {
  readonly requestId: string;
  /** Proves the request is ours (callers without a client key). */
  readonly feedbackToken: string;
  readonly arm: string;
  readonly context: string;
  /** Index of the replica that served it. */
  readonly by: number;
}

/** One chat over the replica's WebSocket; null when it did not end with a ChatDone. */
export async function chatOn(process: SwitchyardProcess, by: number, content: string, tags?: string[]): Promise<Served | null> {
  let route: { requestId: string; feedbackToken: string; arm: string; context: string } | null = null;
  let done = false;
  try {
    for await (const event of process.client.chat({ messages: [{ role: 'USER', content }], cache: false, ...(tags ? { tags } : {}) })) {
      if (event.__typename === 'ChatRoute') {
        route = { requestId: event.requestId, feedbackToken: event.feedbackToken, arm: event.arm, context: event.context };
      }
      if (event.__typename === 'ChatDone') done = true;
    }
  } catch {
    return null;
  }
  return route && done ? { ...route, by } : null;
}

export const FEEDBACK = `mutation($input: FeedbackInput!) { submitFeedback(input: $input) { requestId score learned } }`;

/** Alias per mutation: a handful per request keeps well inside any operation limit. */
export const FEEDBACK_BATCH = 10;

/**
 * Feedback for several requests in one HTTP request (aliased mutations, run in order); returns
 * the refusals as "CODE: message".
 */
export async function feedbackBatch(
  process: SwitchyardProcess,
  items: ReadonlyArray<{ requestId: string; feedbackToken: string; thumbs: 'UP' | 'DOWN' }>,
): Promise<string[]> {
  const refused: string[] = [];
  for (let start = 0; start < items.length; start += FEEDBACK_BATCH) {
    const batch = items.slice(start, start + FEEDBACK_BATCH);
    const fields = batch
      .map(
        (item, i) =>
          `f${i}: submitFeedback(input: { requestId: ${JSON.stringify(item.requestId)}, feedbackToken: ${JSON.stringify(item.feedbackToken)}, thumbs: ${item.thumbs} }) { score }`,
      )
      .join(' ');
    const { errors } = await graphql(process, `mutation { ${fields} }`);
    for (const error of errors ?? []) refused.push(`${error.extensions?.code}: ${error.message}`);
  }
  return refused;
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function inParallel<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface ArmFigures {
  readonly pulls: number;
  readonly alpha: number;
  readonly beta: number;
}

/** Every context's arms on one replica: context → arm → figures. */
export async function armsEverywhere(process: SwitchyardProcess): Promise<Record<string, Record<string, ArmFigures>>> {
  const contexts = ((await graphql<{ contexts: string[] }>(process, '{ contexts }')).data?.contexts ?? []).slice().sort();
  const result: Record<string, Record<string, ArmFigures>> = {};
  for (const context of [GLOBAL_CONTEXT, ...contexts]) {
    const { data } = await graphql<{ arms: Array<{ id: string; pulls: number; posterior: { alpha: number; beta: number } }> }>(
      process,
      'query($c: String) { arms(context: $c) { id pulls posterior { alpha beta } } }',
      { c: context },
    );
    result[context] = Object.fromEntries(
      (data?.arms ?? []).map((arm) => [arm.id, { pulls: arm.pulls, alpha: arm.posterior.alpha, beta: arm.posterior.beta }]),
    );
  }
  return result;
}

/**
 * What the arms must show after `served` requests and the final score each got (prior Beta(1, 1),
 * quality weight 1, no forgetting, no borrowing): pulls and scores counted in the request's
 * context and every ancestor.
 */
export function expectedArms(
  arms: readonly string[],
  served: readonly Served[],
  finalScore: ReadonlyMap<string, number>,
): Record<string, Record<string, ArmFigures>> {
  const result: Record<string, Record<string, { pulls: number; alpha: number; beta: number }>> = {};
  for (const request of served) {
    for (const context of contextChain(request.context)) {
      result[context] ??= Object.fromEntries(arms.map((arm) => [arm, { pulls: 0, alpha: 1, beta: 1 }]));
      const figures = result[context]![request.arm]!;
      figures.pulls += 1;
      const score = finalScore.get(request.requestId);
      if (score !== undefined) {
        figures.alpha += score;
        figures.beta += 1 - score;
      }
    }
  }
  const contexts = Object.keys(result).filter((c) => c !== GLOBAL_CONTEXT).sort();
  return Object.fromEntries([GLOBAL_CONTEXT, ...contexts].map((c) => [c, result[c]!]));
}

/** Polls until every replica shows `expected` (or the time is up); returns what each showed last. */
export async function untilAllShow(
  processes: readonly SwitchyardProcess[],
  expected: unknown,
  timeoutMs = 20_000,
): Promise<Array<Record<string, Record<string, ArmFigures>>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await Promise.all(processes.map(armsEverywhere));
    const same = shown.every((s) => JSON.stringify(s) === JSON.stringify(expected));
    if (same || Date.now() > deadline) return shown;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
