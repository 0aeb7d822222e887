import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import {
  ArmsDocument,
  ChatDocument,
  ModelsDocument,
  type ArmsQuery,
  type ChatSubscription,
  type ModelsQuery,
} from '../../src/client/generated/graphql.js';
import type { RunningGateway } from './gateway.js';

/**
 * Shared pieces of the upstream gateway tests: a config of OpenAI-format models pointing at fake
 * servers, a chat that collects every event, and the `arms` / `models` figures by id.
 */

export type ChatEvent = ChatSubscription['chat'];

/** Short deadlines so stall cases end fast; generous enough for a loaded 2-core machine. */
export const TEST_TIMEOUTS = { connectMs: 1_000, firstTokenMs: 800, idleMs: 800, totalMs: 10_000 };

export function openaiModel(id: string, baseUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    provider: 'openai',
    baseUrl,
    model: `${id}-at-provider`,
    // Real-world prices (USD per 1k tokens), under the default spend caps of callers without a key.
    inputPer1k: 0.0005,
    outputPer1k: 0.0015,
    timeouts: TEST_TIMEOUTS,
    circuit: { failureThreshold: 3, openMs: 400 },
    ...overrides,
  };
}

/** Anonymous spend caps far above what any test spends, for tests with made-up prices. */
export const UNCAPPED_SPEND = { budgetUsdPerHour: 1_000_000, pinnedBudgetUsdPerHour: 1_000_000 };

/** Two OpenAI-format models, one arm each ("a" on m-a, "b" on m-b); no cache, no pacing, no decay. */
export function twoModelConfig(urlA: string, urlB: string, overrides: Record<string, unknown> = {}) {
  return {
    logLevel: 'silent',
    models: [openaiModel('m-a', urlA), openaiModel('m-b', urlB)],
    arms: [
      { id: 'a', model: 'm-a' },
      { id: 'b', model: 'm-b' },
    ],
    // halfLife 0: evidence never decays, so a failure shows as exactly +1 on the posterior's beta.
    bandit: { seed: 11, halfLife: 0 },
    router: { maxAttempts: 3 },
    cache: { enabled: false },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    // No background shadow calls: every upstream request a test sees is one it made.
    shadow: { rate: 0 },
    ...overrides,
  };
}

export const USER_MESSAGE = 'Say hello to the world.';

export async function chat(
  gateway: RunningGateway,
  options: { arm?: string; content?: string } = {},
): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  const variables = {
    input: {
      messages: [{ role: 'USER' as const, content: options.content ?? USER_MESSAGE }],
      arm: options.arm,
      cache: false,
    },
  };
  for await (const result of gateway.client.subscribe(ChatDocument, variables)) {
    expect(result.errors).toBeUndefined();
    events.push(result.data!.chat);
  }
  return events;
}

export interface ChatOutcome {
  readonly route: Extract<ChatEvent, { __typename: 'ChatRoute' }>;
  readonly text: string;
  readonly chunks: number;
  readonly terminal: Extract<ChatEvent, { __typename: 'ChatDone' | 'ChatError' }>;
}

/** Checks the protocol (one route, chunks, exactly one terminal event) and splits the events. */
export function outcomeOf(events: ChatEvent[]): ChatOutcome {
  const route = events[0];
  const terminal = events.at(-1);
  if (route?.__typename !== 'ChatRoute') throw new Error(`expected a route first, got ${JSON.stringify(events)}`);
  if (terminal?.__typename !== 'ChatDone' && terminal?.__typename !== 'ChatError') {
    throw new Error(`expected done or error last, got ${JSON.stringify(events)}`);
  }
  const middle = events.slice(1, -1);
  expect(middle.every((e) => e.__typename === 'ChatChunk')).toBe(true);
  const text = middle.map((e) => (e.__typename === 'ChatChunk' ? e.text : '')).join('');
  return { route, text, chunks: middle.length, terminal };
}

/** The arms' figures in `context` (all requests' when absent). */
export async function armsById(gateway: RunningGateway, context?: string): Promise<Map<string, ArmsQuery['arms'][number]>> {
  const { arms } = await gateway.client.request(ArmsDocument, { context });
  return new Map(arms.map((arm) => [arm.id, arm]));
}

export async function modelsById(gateway: RunningGateway): Promise<Map<string, ModelsQuery['models'][number]>> {
  const { models } = await gateway.client.request(ModelsDocument, {});
  return new Map(models.map((model) => [model.id, model]));
}

/** A 127.0.0.1 port that nothing listens on: connecting to it is refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}
