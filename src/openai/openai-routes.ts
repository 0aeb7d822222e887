import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AccessError, type Principal } from '../auth/principal.js';
import { requireScope } from '../auth/scopes.js';
import type { ChatEvent, ChatRouteEvent } from '../chat/chat-events.js';
import type { ChatGate } from '../chat/chat-gate.js';
import type { FeedbackResult } from '../chat/chat-service.js';
import type { SwitchyardConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { AdaptiveRouter } from '../router/adaptive-router.js';
import type { Authentication, HttpRoute } from '../server/create-server.js';
import { bodyTooLargeMessage, maxRequestBytes } from '../server/request-size.js';
import { AUTO_MODEL, parseCompletionRequest, type CompletionRequest } from './completion-request.js';
import { codedErrorResponse, errorResponse, isUnexpected, type ErrorResponse } from './error-response.js';
import { OpenAIRequestError } from './openai-error.js';

/**
 * The OpenAI-compatible API under /v1: chat completions (streamed as OpenAI streams them, or
 * whole), the model list, and feedback. Every chat goes through the same gate and chat service as
 * GraphQL `chat`, so routing, the cache, the shadow router, learning and limits are the same; the
 * response id is the request id that `submitFeedback` and `POST /v1/feedback` take.
 */

export interface OpenAIRoutesDeps {
  readonly gate: ChatGate;
  readonly router: AdaptiveRouter;
  readonly config: Pick<SwitchyardConfig, 'openai' | 'limits' | 'server'>;
  readonly logger: Logger;
}

const PREFIX = '/v1/';

/** The request's feedback token (also `switchyard.feedbackToken`): /v1/feedback takes it as `feedback_token`. */
export const FEEDBACK_TOKEN_HEADER = 'x-switchyard-feedback-token';

const feedbackBody = z
  .object({
    request_id: z.string().min(1),
    score: z.number().nullable().optional(),
    thumbs: z
      .enum(['up', 'down', 'UP', 'DOWN'])
      .transform((t) => t.toUpperCase() as 'UP' | 'DOWN')
      .nullable()
      .optional(),
    rating: z.number().nullable().optional(),
    comment: z.string().nullable().optional(),
    /** The completion's `switchyard.feedbackToken`: required without a client key. */
    feedback_token: z.string().min(1).max(256).nullable().optional(),
  })
  .strict();

export function createOpenAIRoutes(deps: OpenAIRoutesDeps): HttpRoute {
  const { gate, router, config } = deps;
  const logger = deps.logger.child({ component: 'openai' });
  const auto = new Set([AUTO_MODEL, ...config.openai.autoModelAliases]);
  const created = Math.floor(Date.now() / 1000);
  const maxBodyBytes = maxRequestBytes(config);

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent) return void res.end();
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };
  const sendError = (res: ServerResponse, response: ErrorResponse) => {
    // Once a stream has begun, an error can only be one more event.
    if (res.headersSent) return void writeRaw(res, `data: ${JSON.stringify(response.body)}\n\n`).then(() => res.end());
    send(res, response.status, response.body, { ...response.headers });
  };
  const fail = (res: ServerResponse, error: unknown, context: Record<string, unknown> = {}) => {
    if (isUnexpected(error)) logger.error({ err: error, ...context }, 'OpenAI-compatible request failed');
    sendError(res, errorResponse(error));
  };

  const modelEntry = (id: string) => ({ id, object: 'model', created, owned_by: 'switchyard' });
  const modelIds = () => [...auto, ...router.arms(undefined, 0).filter((arm) => arm.enabled).map((arm) => arm.id)];

  async function chatCompletions(req: IncomingMessage, res: ServerResponse, principal: Principal) {
    const request = parseCompletionRequest(await readJson(req, maxBodyBytes), {
      auto,
      armIds: new Set(router.arms(undefined, 0).map((arm) => arm.id)),
    });
    const stream = await gate.chat(principal, request.chat);
    let finished = false;
    // A client that leaves stops the stream, which aborts the model call.
    res.once('close', () => {
      if (!finished) void stream.return(undefined);
    });
    // It may have left while the chat was being admitted.
    if (res.destroyed) return void (await stream.return(undefined));
    try {
      if (request.stream) await streamCompletion(res, stream, request);
      else await wholeCompletion(res, stream, request);
    } finally {
      finished = true;
    }
  }

  /** Events up to the first chunk or the end: a failure before any text gets an HTTP error status. */
  async function firstEvents(stream: AsyncGenerator<ChatEvent>): Promise<ChatEvent[]> {
    const events: ChatEvent[] = [];
    for (;;) {
      const next = await stream.next();
      if (next.done) return events;
      events.push(next.value);
      if (next.value.type !== 'route') return events;
    }
  }

  async function wholeCompletion(res: ServerResponse, stream: AsyncGenerator<ChatEvent>, request: CompletionRequest) {
    let route: ChatRouteEvent | null = null;
    let content = '';
    for await (const event of stream) {
      if (event.type === 'route') route = event;
      else if (event.type === 'chunk') content += event.text;
      else if (event.type === 'error') return sendError(res, codedErrorResponse(event.code, event.message));
      else {
        const { metrics } = event;
        return send(
          res,
          200,
          {
            id: event.requestId,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model: route?.armId ?? request.model,
            system_fingerprint: null,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content, refusal: null },
                logprobs: null,
                finish_reason: finishReasonOf(event.finishReason),
              },
            ],
            usage: usageOf(metrics),
            switchyard: { ...routeInfo(route), costUsd: metrics.costUsd, latencyMs: metrics.latencyMs, tokensEstimated: metrics.tokensEstimated },
          },
          { 'x-request-id': event.requestId, ...(route ? { [FEEDBACK_TOKEN_HEADER]: route.feedbackToken } : {}) },
        );
      }
    }
    throw new Error('the chat ended without a result');
  }

  async function streamCompletion(res: ServerResponse, stream: AsyncGenerator<ChatEvent>, request: CompletionRequest) {
    const head = await firstEvents(stream);
    const failure = head.find((e) => e.type === 'error');
    if (failure?.type === 'error') return sendError(res, codedErrorResponse(failure.code, failure.message));
    const route = head.find((e): e is ChatRouteEvent => e.type === 'route');
    if (!route) throw new Error('the chat ended without a route');

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': route.requestId,
      [FEEDBACK_TOKEN_HEADER]: route.feedbackToken,
    });
    const base = {
      id: route.requestId,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: route.armId,
      system_fingerprint: null,
    };
    const usageField = request.includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null, extra: Record<string, unknown> = {}) =>
      write(res, { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...usageField, ...extra });

    await chunk({ role: 'assistant', content: '', refusal: null }, null, { switchyard: routeInfo(route) });
    const handle = async (event: ChatEvent): Promise<boolean> => {
      if (event.type === 'chunk') await chunk({ content: event.text });
      else if (event.type === 'done') {
        await chunk({}, finishReasonOf(event.finishReason), {
          switchyard: { costUsd: event.metrics.costUsd, latencyMs: event.metrics.latencyMs, tokensEstimated: event.metrics.tokensEstimated },
        });
        if (request.includeUsage) await write(res, { ...base, choices: [], usage: usageOf(event.metrics) });
        await writeRaw(res, 'data: [DONE]\n\n');
        return true;
      } else if (event.type === 'error') {
        // As OpenAI does mid-stream: an error object, then the end (the SDKs raise it as APIError).
        await write(res, codedErrorResponse(event.code, event.message).body);
        return true;
      }
      return false;
    };
    for (const event of head) if (await handle(event)) return void res.end();
    for await (const event of stream) {
      if ((await handle(event)) || res.destroyed) return void res.end();
    }
    res.end();
  }

  async function feedback(req: IncomingMessage, res: ServerResponse, principal: Principal) {
    const parsed = feedbackBody.safeParse(await readJson(req, 64 * 1024));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys[0]! : null);
      throw new OpenAIRequestError('INVALID_REQUEST', `${param ?? 'body'}: ${issue.message}`, param);
    }
    const { request_id: requestId, feedback_token: feedbackToken, ...rest } = parsed.data;
    const result: FeedbackResult = await gate.submitFeedback(principal, { requestId, feedbackToken, ...rest });
    send(res, 200, {
      request_id: result.requestId,
      score: result.score,
      learned: result.learned,
      evicted: result.evicted,
      arm: { id: result.arm.id, pulls: result.arm.pulls, posterior: result.arm.posterior },
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> | void {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (!config.openai.enabled) {
      throw new OpenAIRequestError('NOT_FOUND', `The OpenAI-compatible API is not served here (openai.enabled is false): ${method} ${path}`);
    }
    if (path === '/v1/chat/completions' && method === 'POST') {
      requireScope(principal, 'openai.chatCompletions');
      return chatCompletions(req, res, principal);
    }
    if (path === '/v1/feedback' && method === 'POST') {
      requireScope(principal, 'openai.feedback');
      return feedback(req, res, principal);
    }
    if (path === '/v1/models' && method === 'GET') {
      requireScope(principal, 'openai.models');
      return send(res, 200, { object: 'list', data: modelIds().map(modelEntry) });
    }
    if (path.startsWith('/v1/models/') && method === 'GET') {
      requireScope(principal, 'openai.models');
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!modelIds().includes(id)) throw new OpenAIRequestError('MODEL_NOT_FOUND', `The model \`${id}\` does not exist`, 'model');
      return send(res, 200, modelEntry(id));
    }
    throw new OpenAIRequestError('NOT_FOUND', `Unknown request URL: ${method} ${path}`);
  }

  return {
    // Served or not (openai.enabled), /v1 is this route's: its clients (the OpenAI SDKs) read only errors of its shape.
    matches: (path) => path.startsWith(PREFIX) || path === PREFIX.slice(0, -1),
    refuse: (res, error) => sendError(res, errorResponse(error)),
    handle(req, res, auth: Authentication) {
      try {
        if (auth instanceof AccessError) throw auth;
        const pending = handle(req, res, auth);
        if (pending) pending.catch((error: unknown) => fail(res, error, { path: req.url }));
      } catch (error) {
        fail(res, error, { path: req.url });
      }
    },
  };
}

function routeInfo(route: ChatRouteEvent | null) {
  if (!route) return {};
  return {
    arm: route.armId,
    model: route.modelId,
    context: route.context,
    confidence: route.confidence,
    cached: route.cached,
    attempts: route.attempts,
    feedbackToken: route.feedbackToken,
  };
}

function usageOf(metrics: { promptTokens: number; completionTokens: number }) {
  return {
    prompt_tokens: metrics.promptTokens,
    completion_tokens: metrics.completionTokens,
    total_tokens: metrics.promptTokens + metrics.completionTokens,
  };
}

const FINISH_REASONS = new Set(['stop', 'length', 'content_filter', 'tool_calls']);

function finishReasonOf(reason: string): string {
  return FINISH_REASONS.has(reason) ? reason : 'stop';
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new OpenAIRequestError('BODY_TOO_LARGE', bodyTooLargeMessage(maxBytes));
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new OpenAIRequestError('INVALID_REQUEST', 'We could not parse the JSON body of your request.');
  }
}

function write(res: ServerResponse, value: unknown): Promise<void> {
  return writeRaw(res, `data: ${JSON.stringify(value)}\n\n`);
}

/** Waits for a slow reader to drain before writing on, so a stream never piles up in memory. */
function writeRaw(res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
