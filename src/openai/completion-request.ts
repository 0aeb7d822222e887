import { z } from 'zod';
import type { ChatRequest } from '../chat/chat-events.js';
import type { ChatMessage } from '../models/backend.js';
import { OpenAIRequestError } from './openai-error.js';

/**
 * An OpenAI chat-completions request body, turned into the chat service's request. Parameters
 * Switchyard can honour are mapped; parameters that only tune sampling are ignored (listed below,
 * and in docs/openai-compatible.md); parameters that would change what the answer is (tools, n > 1,
 * JSON mode, stop sequences, images) are refused, since ignoring them would return a different
 * kind of answer than the client asked for. Unknown parameters are refused as OpenAI does.
 */

export const AUTO_MODEL = 'switchyard/auto';

/** Accepted and ignored: they tune sampling or bookkeeping, not the kind of answer. */
const IGNORED_PARAMETERS = [
  'top_p',
  'frequency_penalty',
  'presence_penalty',
  'seed',
  'user',
  'metadata',
  'store',
  'logit_bias',
  'service_tier',
  'reasoning_effort',
  'parallel_tool_calls',
  'prompt_cache_key',
  'safety_identifier',
  'verbosity',
] as const;

const textPart = z.object({ type: z.literal('text'), text: z.string() }).loose();

const message = z
  .object({
    role: z.string(),
    content: z.union([z.string(), z.array(z.object({ type: z.string() }).loose()), z.null()]).optional(),
    name: z.string().optional(),
  })
  .loose();

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** Switchyard's own fields, in the `switchyard` extension of the body. */
const extension = z
  .object({
    /** The context path to route in (general to specific), as GraphQL ChatInput.tags. */
    tags: z.array(z.string()).optional(),
    /** False bypasses the cache. */
    cache: z.boolean().optional(),
    /**
     * This request's trade-off, as GraphQL ChatInput.objective: only its shape is checked here; the
     * chat service decides the ranges (INVALID_OBJECTIVE), as it does for GraphQL.
     */
    objective: nullable(
      z
        .object({
          costWeight: nullable(z.number()),
          latencyWeight: nullable(z.number()),
          maxCostUsd: nullable(z.number()),
        })
        .strict(),
    ),
  })
  .strict();

const body = z
  .object({
    model: z.string().min(1),
    messages: z.array(message),
    stream: nullable(z.boolean()),
    stream_options: nullable(z.object({ include_usage: z.boolean().optional() }).loose()),
    max_tokens: nullable(z.number().int()),
    max_completion_tokens: nullable(z.number().int()),
    temperature: nullable(z.number()),
    n: nullable(z.number().int()),
    stop: nullable(z.union([z.string(), z.array(z.string())])),
    tools: nullable(z.array(z.unknown())),
    functions: nullable(z.array(z.unknown())),
    tool_choice: nullable(z.unknown()),
    function_call: nullable(z.unknown()),
    response_format: nullable(z.object({ type: z.string() }).loose()),
    logprobs: nullable(z.boolean()),
    top_logprobs: nullable(z.number().int()),
    modalities: nullable(z.array(z.string())),
    audio: nullable(z.unknown()),
    prediction: nullable(z.unknown()),
    web_search_options: nullable(z.unknown()),
    switchyard: nullable(extension),
    ...Object.fromEntries(IGNORED_PARAMETERS.map((name) => [name, z.unknown().optional()])),
  })
  .strict();

export interface CompletionRequest {
  /** The model as the client named it (echoed in responses when it pinned nothing). */
  readonly model: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly chat: Omit<ChatRequest, 'owner'>;
}

export interface ModelNames {
  /** Names that let the bandit choose: "switchyard/auto" and the configured aliases. */
  readonly auto: ReadonlySet<string>;
  readonly armIds: ReadonlySet<string>;
}

export function parseCompletionRequest(raw: unknown, models: ModelNames): CompletionRequest {
  const parsed = body.safeParse(raw);
  if (!parsed.success) throw requestErrorOf(parsed.error);
  const request = parsed.data;

  const refuse = (param: string, what: string) => {
    throw new OpenAIRequestError('UNSUPPORTED_PARAMETER', `${what} is not supported by Switchyard`, param);
  };
  if (request.n !== undefined && request.n !== null && request.n !== 1) refuse('n', 'n other than 1');
  if (request.stop !== undefined && request.stop !== null && request.stop.length > 0) refuse('stop', 'stop');
  if (request.tools?.length) refuse('tools', 'tools');
  if (request.functions?.length) refuse('functions', 'functions');
  if (request.tool_choice !== undefined && request.tool_choice !== null && request.tool_choice !== 'none') {
    refuse('tool_choice', 'tool_choice');
  }
  if (request.function_call !== undefined && request.function_call !== null && request.function_call !== 'none') {
    refuse('function_call', 'function_call');
  }
  if (request.response_format && request.response_format.type !== 'text') refuse('response_format', `response_format ${request.response_format.type}`);
  if (request.logprobs === true) refuse('logprobs', 'logprobs');
  if (request.top_logprobs !== undefined && request.top_logprobs !== null) refuse('top_logprobs', 'top_logprobs');
  if (request.modalities && request.modalities.some((m) => m !== 'text')) refuse('modalities', 'modalities other than text');
  if (request.audio !== undefined && request.audio !== null) refuse('audio', 'audio');
  if (request.prediction !== undefined && request.prediction !== null) refuse('prediction', 'prediction');
  if (request.web_search_options !== undefined && request.web_search_options !== null) {
    refuse('web_search_options', 'web_search_options');
  }

  let armId: string | undefined;
  if (!models.auto.has(request.model)) {
    const name = request.model.startsWith('switchyard/') ? request.model.slice('switchyard/'.length) : request.model;
    if (!models.armIds.has(name)) {
      throw new OpenAIRequestError(
        'MODEL_NOT_FOUND',
        `The model \`${request.model}\` does not exist: use "${AUTO_MODEL}" or an arm id (GET /v1/models lists them)`,
        'model',
      );
    }
    armId = name;
  }

  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const objective = request.switchyard?.objective;
  return {
    model: request.model,
    stream: request.stream === true,
    includeUsage: request.stream_options?.include_usage === true,
    chat: {
      messages: request.messages.map((m, i) => messageOf(m, i)),
      tags: request.switchyard?.tags,
      armId,
      maxTokens,
      temperature: request.temperature ?? undefined,
      cache: request.switchyard?.cache,
      objective: objective
        ? {
            costWeight: objective.costWeight ?? undefined,
            latencyWeight: objective.latencyWeight ?? undefined,
            maxCostUsd: objective.maxCostUsd ?? undefined,
          }
        : undefined,
    },
  };
}

function messageOf(m: z.infer<typeof message>, index: number): ChatMessage {
  const param = `messages[${index}]`;
  let role: ChatMessage['role'];
  switch (m.role) {
    case 'system':
    case 'developer':
      role = 'system';
      break;
    case 'user':
    case 'assistant':
      role = m.role;
      break;
    default:
      throw new OpenAIRequestError('UNSUPPORTED_PARAMETER', `${param}.role "${m.role}" is not supported by Switchyard`, `${param}.role`);
  }
  if (m['tool_calls'] !== undefined || m['function_call'] !== undefined) {
    throw new OpenAIRequestError('UNSUPPORTED_PARAMETER', `${param}: tool calls are not supported by Switchyard`, param);
  }
  const content = m.content ?? '';
  if (typeof content === 'string') return { role, content };
  const texts = content.map((part, j) => {
    const text = textPart.safeParse(part);
    if (!text.success) {
      throw new OpenAIRequestError(
        'UNSUPPORTED_PARAMETER',
        `${param}.content[${j}]: only text parts are supported by Switchyard, not "${part.type}"`,
        `${param}.content`,
      );
    }
    return text.data.text;
  });
  return { role, content: texts.join('\n') };
}

function requestErrorOf(error: z.ZodError): OpenAIRequestError {
  const issue = error.issues[0]!;
  const param = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = param ? `${param}.${key}` : key;
    return new OpenAIRequestError('INVALID_REQUEST', `Unrecognized request argument supplied: ${where}`, where);
  }
  if (param === '') return new OpenAIRequestError('INVALID_REQUEST', `the request body must be a JSON object: ${issue.message}`);
  return new OpenAIRequestError('INVALID_REQUEST', `${param}: ${issue.message}`, param);
}
