/**
 * The upstream bench's floor: the least a relay on graphql-yoga + graphql-ws must do to stream an
 * OpenAI-format server's answer as Switchyard's chat subscription. It is the bare server
 * (bare-server.ts: the same libraries, wired the same way, nothing else) whose chat resolver opens
 * the upstream with undici, parses it with the repo's SSE parser, and yields the tokens as chat
 * events of Switchyard's shape: the route once the first token is in, the first token as a chunk
 * at once, then chunks of CHUNK_TOKENS tokens and the rest at the end, then done. No routing,
 * learning, limits, timeouts or failover: what it costs over a direct read is the fixed stack's.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { createSseParser } from '../src/models/sse-parser.js';
import { startBareServer } from './bare-server.js';

/**
 * Tokens per chunk after the first: Switchyard's `streaming.maxWords` default, which one arm
 * (routing confidence 1) reaches, so on the bench's one-word tokens both servers send the same
 * events (route, 1, 20, 20, 9 words, done for 50 tokens).
 */
export const CHUNK_TOKENS = 20;

interface ChatArgs {
  readonly input: { readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }> };
}

interface OpenAIChunk {
  readonly choices: ReadonlyArray<{ readonly delta?: { readonly content?: string }; readonly finish_reason?: string | null }>;
  readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number } | null;
}

export interface BareRelay {
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** A bare relay of `upstreamUrl` (an OpenAI-format base URL); `model` is sent as the request's model. */
export async function startBareRelay(upstreamUrl: string, model = 'bench'): Promise<BareRelay> {
  const agent = new Agent();
  const url = `${upstreamUrl}/chat/completions`;

  async function* relay(_root: unknown, args: Record<string, unknown>): AsyncGenerator<{ chat: object }> {
    const started = performance.now();
    const { input } = args as unknown as ChatArgs;
    const requestId = randomUUID();
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        model,
        messages: input.messages.map((m) => ({ role: m.role.toLowerCase(), content: m.content })),
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`upstream answered ${response.statusCode}`);
    }
    const parser = createSseParser();
    let ttftMs: number | undefined;
    let finishReason = 'stop';
    let usage: OpenAIChunk['usage'];
    let index = 0;
    let text = '';
    let words = 0;
    let ended = false;
    const chunk = () => ({ chat: { __typename: 'ChatChunk', requestId, index: index++, text, words } });
    try {
      reading: for await (const bytes of response.body) {
        for (const event of parser.push(bytes as Uint8Array)) {
          if (event.data === '[DONE]') break reading;
          const parsed = JSON.parse(event.data) as OpenAIChunk;
          usage = parsed.usage ?? usage;
          const choice = parsed.choices[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          const content = choice?.delta?.content;
          if (!content) continue;
          text += content;
          words++;
          if (ttftMs === undefined) {
            ttftMs = performance.now() - started;
            yield {
              chat: {
                __typename: 'ChatRoute',
                requestId,
                arm: 'local',
                model: 'local',
                context: 'chat/short',
                confidence: 1,
                cached: false,
                attempts: 1,
                feedbackToken: requestId,
              },
            };
          }
          if (index === 0 || words === CHUNK_TOKENS) {
            yield chunk();
            text = '';
            words = 0;
          }
        }
      }
      ended = true;
      if (words > 0) yield chunk();
      yield {
        chat: {
          __typename: 'ChatDone',
          requestId,
          feedbackToken: requestId,
          finishReason,
          attempts: 1,
          chunks: index,
          metrics: {
            latencyMs: performance.now() - started,
            ttftMs: ttftMs ?? null,
            promptTokens: usage?.prompt_tokens ?? 0,
            completionTokens: usage?.completion_tokens ?? 0,
            tokensEstimated: false,
            costUsd: 0,
            reward: 1,
          },
        },
      };
    } finally {
      // A client that leaves early (or an upstream that breaks) must not keep the upstream open.
      if (!ended) response.body.destroy();
    }
  }

  const server = await startBareServer(relay);
  return {
    wsUrl: server.wsUrl,
    async close() {
      await server.close();
      await agent.close();
    },
  };
}
