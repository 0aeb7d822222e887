import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/**
 * Issue 14: "anonymous caller, 200 chats pinned to the dearest arm: $4.25 spent in 4.2 s, no
 * limit". Before, the embedded default had no limit at all for callers without a key, and limits
 * that did exist were shared by every anonymous caller as one. Now every caller without a key is
 * limited by its remote address, with a default spend cap per hour and a smaller one for chats
 * pinned to an arm; each chat reserves its worst-case cost at admission, so 200 concurrent chats
 * cannot spend past the cap either. A key needs the `pin` scope to pin at all.
 *
 * The embedded default's models and prices (titan: $0.01 / $0.03 per 1k tokens), made instant so
 * the test is about money, not time.
 */

type ChatEvent = ChatSubscription['chat'];

const CHAT = print(ChatDocument);
/** About 2,000 tokens of prose: a prompt as long as a pasted document. */
const PROMPT = Array.from({ length: 1_000 }, (_, i) => ['the', 'invoice', 'for', 'march', 'was', 'higher', 'than', 'usual'][i % 8]).join(' ');

function configFor(auth: Record<string, unknown> = {}) {
  return {
    logLevel: 'silent',
    models: defaultConfig.models.map((model) => ({ ...model, ttftMs: 0, tokensPerSecond: 0, errorRate: 0 })),
    arms: defaultConfig.arms,
    cache: { enabled: false },
    shadow: { rate: 0 },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    auth,
  };
}

/** A graphql-ws client whose socket leaves from `address` (any 127.x address reaches loopback). */
function clientFrom(url: string, address: string, connectionParams?: Record<string, unknown>): Client {
  class FromAddress extends WebSocket {
    constructor(target: string, protocols?: string | string[]) {
      super(target, protocols, { localAddress: address });
    }
  }
  return createClient({ url, webSocketImpl: FromAddress, retryAttempts: 0, lazy: true, connectionParams });
}

interface Outcome {
  readonly costUsd: number | null;
  readonly code: string | null;
}

async function pinnedChat(client: Client, arm: string | undefined): Promise<Outcome> {
  try {
    for await (const result of client.iterate({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content: PROMPT }], arm, cache: false } } })) {
      if (result.errors?.length) return { costUsd: null, code: String(result.errors[0]!.extensions?.code) };
      const event = (result.data as ChatSubscription).chat as ChatEvent;
      if (event.__typename === 'ChatDone') return { costUsd: event.metrics.costUsd, code: null };
      if (event.__typename === 'ChatError') return { costUsd: null, code: event.code };
    }
  } catch (errors) {
    if (Array.isArray(errors)) return { costUsd: null, code: String(errors[0]?.extensions?.code) };
    throw errors;
  }
  throw new Error('the chat ended without a result');
}

const spent = (outcomes: readonly Outcome[]) => outcomes.reduce((sum, o) => sum + (o.costUsd ?? 0), 0);

describe('spend abuse by a caller without a key (embedded default limits)', () => {
  let gateway: RunningGateway;
  const clients: Client[] = [];
  const from = (address: string) => {
    const client = clientFrom(gateway.wsUrl, address);
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    gateway = await startGateway({ config: configFor() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await gateway?.close();
  });

  it('200 concurrent chats pinned to the dearest arm spend at most the pinned budget; the rest get BUDGET_EXHAUSTED', async () => {
    const budget = gateway.config.auth.anonymousLimits.pinnedBudgetUsdPerHour!;
    const attacker = from('127.0.0.1');
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => pinnedChat(attacker, 'titan')));
    const served = outcomes.filter((o) => o.costUsd !== null);
    const refused = outcomes.filter((o) => o.code !== null);
    console.log(
      `spend abuse: 200 concurrent pinned chats on titan -> ${served.length} served, $${spent(outcomes).toFixed(4)} spent ` +
        `(pinned budget $${budget}), ${refused.length} refused`,
    );
    expect(served.length + refused.length).toBe(200);
    expect(served.length).toBeGreaterThan(0);
    expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['BUDGET_EXHAUSTED']));
    expect(spent(outcomes)).toBeLessThanOrEqual(budget);

    // Sequentially, what concurrent chats reserved but did not use comes back: the budget is spent
    // up to one chat's worth, and never past it.
    const more: Outcome[] = [];
    for (let i = 0; i < 100; i++) {
      const outcome = await pinnedChat(attacker, 'titan');
      more.push(outcome);
      if (outcome.code !== null) break;
    }
    expect(more.at(-1)!.code).toBe('BUDGET_EXHAUSTED');
    const total = spent(outcomes) + spent(more);
    console.log(`spend abuse: then sequential pinned chats until refused -> $${total.toFixed(4)} spent in total`);
    expect(total).toBeLessThanOrEqual(budget);
    expect(total).toBeGreaterThan(budget * 0.8);
  });

  it('counts by remote address: another caller still pins, and the attacker can still be routed', async () => {
    expect(await pinnedChat(from('127.0.0.2'), 'titan')).toMatchObject({ code: null });
    // Routed chats count only against the hourly budget, which the pinned ones left room in.
    expect(await pinnedChat(from('127.0.0.1'), undefined)).toMatchObject({ code: null });
  });

  it('refuses a token limit past limits.maxTokens as MAX_TOKENS_OUT_OF_RANGE, not as a budget no chat can spend', async () => {
    // 10M tokens on titan would be $300: past every budget, but no chat is let run past limits.maxTokens.
    const maxTokens = 10_000_000;
    const caller = from('127.0.0.3');
    for (const arm of ['titan', undefined]) {
      const result = await caller.iterate({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content: 'hi' }], arm, maxTokens } } }).next();
      expect(result.value).toMatchObject({ errors: [{ extensions: { code: 'MAX_TOKENS_OUT_OF_RANGE' } }] });
    }
    const dispatcher = new Agent({ connect: { localAddress: '127.0.0.4' } });
    try {
      const openai = new OpenAI({
        baseURL: gateway.url.replace(/\/graphql$/, '/v1'),
        apiKey: 'unused',
        fetch: (url, init) => undiciFetch(url as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>,
      });
      const refused = await openai.chat.completions
        .create({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: maxTokens })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect(refused).toMatchObject({ status: 400, code: 'MAX_TOKENS_OUT_OF_RANGE', param: 'max_tokens' });
    } finally {
      await dispatcher.close();
    }
    // Refused after admission, nothing stays reserved: the caller chats on.
    expect(await pinnedChat(caller, 'titan')).toMatchObject({ code: null });
  });

  it('refuses the spent caller on /v1 too, with 429 BUDGET_EXHAUSTED and no retry', async () => {
    const response = await fetch(gateway.url.replace(/\/graphql$/, '/v1/chat/completions'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'titan', messages: [{ role: 'user', content: PROMPT }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('x-should-retry')).toBe('false');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ error: { code: 'BUDGET_EXHAUSTED', type: 'insufficient_quota' } });
  });
});

describe('who may pin, and a key with its own hourly budget', () => {
  const KEYS = { APP_KEY: 'sk-app-3a5c7e9b1d3f5a7c', PINNER_KEY: 'sk-pinner-8b0d2f4a6c8e0b2d' };
  let gateway: RunningGateway;
  const clients: Client[] = [];
  beforeAll(async () => {
    gateway = await startGateway({
      config: configFor({
        keys: [
          { id: 'app', env: 'APP_KEY' },
          { id: 'pinner', env: 'PINNER_KEY', scopes: ['chat', 'pin'], limits: { budgetUsdPerHour: 0.2 } },
        ],
      }),
      env: KEYS,
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await gateway?.close();
  });
  const keyed = (key: string) => {
    const client = clientFrom(gateway.wsUrl, '127.0.0.1', { authorization: `Bearer ${key}` });
    clients.push(client);
    return client;
  };

  it('refuses a pinned chat from a key without the pin scope, on graphql-ws and /v1, and routes its other chats', async () => {
    expect(await pinnedChat(keyed(KEYS.APP_KEY), 'titan')).toEqual({ costUsd: null, code: 'FORBIDDEN' });
    const response = await fetch(gateway.url.replace(/\/graphql$/, '/v1/chat/completions'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.APP_KEY}` },
      body: JSON.stringify({ model: 'titan', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(403);
    expect(await pinnedChat(keyed(KEYS.APP_KEY), undefined)).toMatchObject({ code: null });
  });

  it('holds a key to its own hourly budget under 100 concurrent chats', async () => {
    const pinner = keyed(KEYS.PINNER_KEY);
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => pinnedChat(pinner, 'titan')));
    expect(spent(outcomes)).toBeLessThanOrEqual(0.2);
    expect(outcomes.filter((o) => o.code === 'BUDGET_EXHAUSTED').length).toBeGreaterThan(0);
  });
});
