import type { OpenAIModelConfig } from '../config/schema.js';
import { UpstreamError, type CompletionEvent, type CompletionRequest, type ModelBackend } from './backend.js';
import {
  bodyChunks,
  createUpstreamAgent,
  errorMessageOf,
  isRecord,
  joinUrl,
  loggableUrl,
  lowerCaseKeys,
  openUpstream,
  redactSecrets,
  abandonBody,
  drainFinishedBody,
  toUpstreamError,
  type HttpBackendDeps,
  type HttpModelBackend,
  type ResponseBody,
} from './http-client.js';
import { parseSse } from './sse-parser.js';
import { countMessageTokens, countTokens } from './token-counter.js';

/**
 * A backend for every server speaking OpenAI's chat-completions streaming format: OpenAI itself,
 * Groq, Together, OpenRouter, vLLM, Ollama, llama.cpp's server, and Azure OpenAI deployments
 * (key in an `api-key` header via `apiKeyHeader`, `api-version` via `query`).
 *
 * Events, in order: `token`* (each non-empty `choices[0].delta.content`), then exactly one `usage`
 * (the provider's, or counted with the tokenizer and marked `estimated`), then one `finish`.
 *
 * A data line that is not JSON fails the stream with UPSTREAM_PROTOCOL_ERROR rather than being
 * skipped: the line may have carried content, and skipping it would silently corrupt the answer.
 */

export function createOpenAIBackend(config: OpenAIModelConfig, deps: HttpBackendDeps): HttpModelBackend {
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher = deps.dispatcher ?? createUpstreamAgent(config.timeouts);
  const now = deps.now ?? Date.now;
  const url = withQuery(joinUrl(config.baseUrl, 'chat/completions'), config.query);
  const secrets = deps.apiKey === undefined ? [] : [deps.apiKey];
  const logger = deps.logger.child({ component: 'model-backend', provider: 'openai', model: config.id });
  const headers: Record<string, string> = {
    ...lowerCaseKeys(config.headers),
    'content-type': 'application/json',
    accept: 'text/event-stream',
  };
  if (deps.apiKey !== undefined && deps.apiKey !== '') {
    if (config.apiKeyHeader === undefined) headers['authorization'] = `Bearer ${deps.apiKey}`;
    else headers[config.apiKeyHeader.toLowerCase()] = deps.apiKey;
  }

  async function* stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
    const body: Record<string, unknown> = {
      model: config.model,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
      [config.maxTokensField]: request.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.temperature !== undefined) body['temperature'] = request.temperature;
    logger.debug({ url: loggableUrl(url), messages: request.messages.length }, 'upstream request');

    let tokensSent = false;
    let responseBody: ResponseBody | undefined;
    let completed = false;
    try {
      const response = await openUpstream({
        provider: 'openai',
        url,
        headers,
        body,
        signal: request.signal,
        dispatcher,
        secrets,
        now,
      });
      responseBody = response.body;
      if (response.contentType !== '' && !response.contentType.includes('text/event-stream')) {
        throw new UpstreamError(
          'UPSTREAM_PROTOCOL_ERROR',
          `openai: expected text/event-stream, got ${response.contentType.slice(0, 100)}`,
          { retryable: true },
        );
      }

      let text = '';
      let finishReason: string | undefined;
      let usage: { promptTokens: number; completionTokens: number } | undefined;
      let done = false;
      for await (const event of parseSse(bodyChunks(response.body))) {
        if (event.data === '[DONE]') {
          done = true;
          break;
        }
        if (event.data === '') continue;
        const chunk = parseChunk(event.data, tokensSent, secrets);
        const chunkUsage = usageOf(chunk);
        if (chunkUsage !== undefined) usage = chunkUsage;
        const choices = chunk['choices'];
        const choice = Array.isArray(choices) ? (choices[0] as unknown) : undefined;
        if (!isRecord(choice)) continue;
        const delta = choice['delta'];
        const content = isRecord(delta) ? delta['content'] : undefined;
        if (typeof content === 'string' && content !== '') {
          text += content;
          tokensSent = true;
          yield { type: 'token', text: content };
        }
        if (typeof choice['finish_reason'] === 'string') finishReason = choice['finish_reason'];
      }
      if (!done && finishReason === undefined) {
        throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'openai: stream ended before [DONE]', {
          retryable: !tokensSent,
        });
      }
      completed = true;
      // Started before the last events are handed out; awaited after them, so the socket is back in
      // the pool by the time the consumer sees the stream end, without delaying `finish`.
      const drained = done ? drainFinishedBody(response.body) : Promise.resolve();
      if (usage !== undefined) {
        yield { type: 'usage', ...usage, estimated: false };
      } else {
        yield {
          type: 'usage',
          promptTokens: countMessageTokens(request.messages),
          completionTokens: countTokens(text),
          estimated: true,
        };
      }
      yield { type: 'finish', reason: finishReason ?? 'stop' };
      await drained;
    } catch (error) {
      const mapped = toUpstreamError(error, { provider: 'openai', tokensSent, signal: request.signal });
      if (mapped instanceof UpstreamError) {
        logger.warn({ code: mapped.code, status: mapped.status, retryable: mapped.retryable }, mapped.message);
      }
      throw mapped;
    } finally {
      // An unfinished body (consumer stopped, error) holds its socket; destroying it closes the
      // connection at once instead of draining a stream nobody reads.
      if (!completed && responseBody !== undefined) abandonBody(responseBody);
    }
  }

  return {
    id: config.id,
    provider: 'openai',
    pricing: { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k },
    stream,
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

function parseChunk(data: string, tokensSent: boolean, secrets: readonly string[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'openai: malformed JSON in a stream event', {
      retryable: !tokensSent,
    });
  }
  if (!isRecord(parsed)) {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'openai: stream event is not a JSON object', {
      retryable: !tokensSent,
    });
  }
  if (parsed['error'] !== undefined && parsed['error'] !== null) {
    const text = redactSecrets(errorMessageOf(parsed) ?? 'unknown error', secrets);
    throw new UpstreamError('UPSTREAM_ERROR', `openai stream error: ${text}`, { retryable: !tokensSent });
  }
  return parsed;
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
