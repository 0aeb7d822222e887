import type { OpenAIModelConfig } from '../config/schema.js';
import { UpstreamError } from './backend.js';
import {
  errorMessageOf,
  isRecord,
  joinUrl,
  redactSecrets,
  type HttpBackendDeps,
  type HttpModelBackend,
} from './http-client.js';
import {
  createSseBackend,
  END_OF_STREAM,
  parseEventJson,
  streamEndedEarly,
  type SseTranslation,
  type TranslationContext,
} from './sse-backend.js';

/**
 * A backend for every server speaking OpenAI's chat-completions streaming format: OpenAI itself,
 * Groq, Together, OpenRouter, vLLM, Ollama, llama.cpp's server, and Azure OpenAI deployments
 * (key in an `api-key` header via `apiKeyHeader`, `api-version` via `query`).
 *
 * Events, in order: `token`* (each non-empty `choices[0].delta.content`), then exactly one `usage`
 * (the provider's, or counted with the tokenizer and marked `estimated`), then one `finish`.
 */

export function createOpenAIBackend(config: OpenAIModelConfig, deps: HttpBackendDeps): HttpModelBackend {
  const providerHeaders: Record<string, string> = {};
  if (deps.apiKey !== undefined && deps.apiKey !== '') {
    if (config.apiKeyHeader === undefined) providerHeaders['authorization'] = `Bearer ${deps.apiKey}`;
    else providerHeaders[config.apiKeyHeader.toLowerCase()] = deps.apiKey;
  }
  return createSseBackend({
    provider: 'openai',
    config,
    deps,
    url: withQuery(joinUrl(config.baseUrl, 'chat/completions'), config.query),
    providerHeaders,
    requestBody(request) {
      const body: Record<string, unknown> = {
        model: config.model,
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        [config.maxTokensField]: request.maxTokens,
        stream: true,
        stream_options: { include_usage: true },
      };
      if (request.temperature !== undefined) body['temperature'] = request.temperature;
      return body;
    },
    translate: translateChunks,
  });
}

const translateChunks: SseTranslation = (context) => {
  let finishReason: string | undefined;
  let usage: { promptTokens: number; completionTokens: number } | undefined;
  return {
    accept(event) {
      if (event.data === '[DONE]') return END_OF_STREAM;
      if (event.data === '') return undefined;
      const chunk = parseChunk(event.data, context);
      usage = usageOf(chunk) ?? usage;
      const choices = chunk['choices'];
      const choice = Array.isArray(choices) ? (choices[0] as unknown) : undefined;
      if (!isRecord(choice)) return undefined;
      if (typeof choice['finish_reason'] === 'string') finishReason = choice['finish_reason'];
      const delta = choice['delta'];
      const content = isRecord(delta) ? delta['content'] : undefined;
      return typeof content === 'string' && content !== '' ? content : undefined;
    },
    outcome(endMarkerSeen) {
      // A finish_reason without [DONE] is a complete answer from a server that skips the marker.
      if (!endMarkerSeen && finishReason === undefined) throw streamEndedEarly('openai', '[DONE]', context);
      return {
        endMarkerSeen,
        promptTokens: usage?.promptTokens,
        completionTokens: usage?.completionTokens,
        finishReason: finishReason ?? 'stop',
      };
    },
  };
};

function parseChunk(data: string, context: TranslationContext): Record<string, unknown> {
  const chunk = parseEventJson(data, 'openai', context);
  if (chunk['error'] !== undefined && chunk['error'] !== null) {
    const text = redactSecrets(errorMessageOf(chunk) ?? 'unknown error', context.secrets);
    throw new UpstreamError('UPSTREAM_ERROR', `openai stream error: ${text}`, { retryable: !context.tokensSent });
  }
  return chunk;
}

function usageOf(chunk: Record<string, unknown>): { promptTokens: number; completionTokens: number } | undefined {
  const usage = chunk['usage'];
  if (!isRecord(usage)) return undefined;
  const prompt = usage['prompt_tokens'];
  const completion = usage['completion_tokens'];
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  return { promptTokens: prompt, completionTokens: completion };
}

/** Adds configured query parameters (Azure's `api-version`) to the endpoint URL. */
function withQuery(url: string, query: Readonly<Record<string, string>>): string {
  const entries = Object.entries(query);
  if (entries.length === 0) return url;
  const parsed = new URL(url);
  for (const [name, value] of entries) parsed.searchParams.set(name, value);
  return parsed.toString();
}
