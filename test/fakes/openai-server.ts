import { randomUUID } from 'node:crypto';
import {
  startProviderServer,
  writeTokens,
  type ConnectionFault,
  type FakeProviderServer,
  type ProviderScript,
  type ResponseContext,
  type ScriptSource,
} from './provider-server.js';

export type { RecordedRequest } from './provider-server.js';

/**
 * A local stand-in for OpenAI's chat-completions endpoint, written to the wire format as OpenAI
 * sends it: `content-type: text/event-stream`, one `data: {json}\n\n` per chunk
 * (`object: "chat.completion.chunk"`, a first chunk carrying the role, one per content piece, one
 * with `finish_reason`, with `"usage": null` on each when `stream_options.include_usage` is set and
 * then a final usage chunk with `choices: []`), then `data: [DONE]\n\n`. Non-streaming requests get
 * a `chat.completion` JSON object; errors get `{"error": {message, type, param, code}}`.
 * The official `openai` SDK is run against it in the tests, so it cannot drift from the format.
 */

/** A fault injected after `afterTokens` content chunks (0: before the first token). */
export type OpenAIStreamFault =
  | ConnectionFault
  /** Send a data line that is not JSON, then carry on normally. */
  | { readonly kind: 'malformed'; readonly afterTokens: number; readonly line?: string }
  /** Send `data: {"error": {...}}` and end the response, as OpenAI does for mid-stream failures. */
  | {
      readonly kind: 'error-object';
      readonly afterTokens: number;
      readonly message?: string;
      readonly type?: string;
    };

export interface FakeOpenAIScript extends ProviderScript<OpenAIStreamFault> {
  /** Defaults to "stop", or "length" when `max_tokens` cut the tokens short. */
  readonly finishReason?: string;
  /** Behave like a server that never reports usage, even when asked to. */
  readonly omitUsage?: boolean;
  readonly promptTokens?: number;
  /** An SSE comment line sent before the first token (OpenRouter sends such keep-alives). */
  readonly comment?: string;
}

export type FakeOpenAIServer = FakeProviderServer<FakeOpenAIScript>;

export const DEFAULT_OPENAI_TOKENS = ['Hello', ',', ' world', '!'] as const;

export function startFakeOpenAI(
  options: { readonly script?: ScriptSource<FakeOpenAIScript> } = {},
): Promise<FakeOpenAIServer> {
  return startProviderServer<FakeOpenAIScript>({
    defaultScript: options.script ?? {},
    respond: respondOpenAI,
  });
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'requests',
  500: 'server_error',
  503: 'server_error',
};

async function respondOpenAI(context: ResponseContext, script: FakeOpenAIScript): Promise<void> {
  const { res, request } = context;
  await context.pause(script.headersDelayMs);
  // Azure-style deployments put `?api-version=...` after the path.
  const pathname = new URL(request.path, 'http://fake.invalid').pathname;
  if (request.method !== 'POST' || !pathname.endsWith('/chat/completions')) {
    sendError(context, 404, { errorMessage: `Unknown request URL: ${request.method} ${request.path}` });
    return;
  }
  const status = script.status ?? 200;
  if (status !== 200) {
    sendError(context, status, script);
    return;
  }
  const body = (request.body ?? {}) as {
    model?: string;
    stream?: boolean;
    max_tokens?: number;
    max_completion_tokens?: number;
    stream_options?: { include_usage?: boolean };
  };
  const model = body.model ?? 'gpt-4o-mini';
  const allTokens = script.tokens ?? DEFAULT_OPENAI_TOKENS;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY;
  const tokens = allTokens.slice(0, maxTokens);
  const finishReason = script.finishReason ?? (tokens.length < allTokens.length ? 'length' : 'stop');
  const promptTokens = script.promptTokens ?? 12;
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: tokens.length,
    total_tokens: promptTokens + tokens.length,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const id = `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const created = Math.floor(Date.now() / 1000);
  const common = { id, created, model, service_tier: 'default', system_fingerprint: 'fp_fake0001' };

  if (body.stream !== true) {
    await context.pause(script.firstTokenDelayMs);
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${id}` });
    res.end(
      JSON.stringify({
        ...common,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: tokens.join(''), refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage: script.omitUsage ? undefined : usage,
      }),
    );
    return;
  }

  const includeUsage = body.stream_options?.include_usage === true && script.omitUsage !== true;
  const chunk = (choices: unknown[], usageValue?: unknown): string =>
    `data: ${JSON.stringify({
      ...common,
      object: 'chat.completion.chunk',
      choices,
      ...(includeUsage ? { usage: usageValue ?? null } : {}),
    })}\n\n`;
  const delta = (deltaValue: unknown, finish: string | null = null): string =>
    chunk([{ index: 0, delta: deltaValue, logprobs: null, finish_reason: finish }]);

  context.openEventStream({ 'x-request-id': `req_${id}` });
  await context.pause(script.firstTokenDelayMs);
  await context.write(delta({ role: 'assistant', content: '', refusal: null }));
  if (script.comment !== undefined) await context.write(`: ${script.comment}\n\n`);
  const writeToken = (token: string): Promise<void> => context.write(delta({ content: token }));
  if (await writeTokens(context, script, tokens, writeToken, (fault) => applyFault(context, fault))) return;
  await context.write(delta({}, finishReason));
  if (includeUsage) await context.write(chunk([], usage));
  await context.write('data: [DONE]\n\n');
  res.end();
}

/** Returns true when the response is over (the stream must not go on). */
async function applyFault(
  context: ResponseContext,
  fault: Exclude<OpenAIStreamFault, ConnectionFault>,
): Promise<boolean> {
  switch (fault.kind) {
    case 'malformed':
      await context.write(fault.line ?? `data: {"id":"chatcmpl-broken","choices":[{"delta":{"content":"x"\n\n`);
      return false;
    case 'error-object':
      await context.write(
        `data: ${JSON.stringify({
          error: {
            message: fault.message ?? 'The server had an error while processing your request. Sorry about that!',
            type: fault.type ?? 'server_error',
            param: null,
            code: null,
          },
        })}\n\n`,
      );
      context.res.end();
      return true;
  }
}

function sendError(
  context: ResponseContext,
  status: number,
  script: Pick<FakeOpenAIScript, 'errorMessage' | 'errorType' | 'retryAfter'>,
): void {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (script.retryAfter !== undefined) headers['retry-after'] = script.retryAfter;
  context.res.writeHead(status, headers);
  context.res.end(
    JSON.stringify({
      error: {
        message: script.errorMessage ?? `Fake error with status ${status}`,
        type: script.errorType ?? ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
        param: null,
        code: null,
      },
    }),
  );
}
