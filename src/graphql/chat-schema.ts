import type { ChatChunkEvent, ChatDoneEvent, ChatErrorEvent, ChatEvent, ChatMetrics, ChatRouteEvent } from '../chat/chat-events.js';
import { MAX_RECENT_PER_SESSION, type RequestRecord } from '../chat/request-store.js';
import { builder } from './builder.js';
import { roundMs, roundMsOrNull, roundShareOrNull, roundUsd } from './display-rounding.js';
import { translateErrors, translateStream, userError } from './errors.js';

const ChatRole = builder.enumType('ChatRole', {
  values: { SYSTEM: { value: 'system' }, USER: { value: 'user' }, ASSISTANT: { value: 'assistant' } } as const,
});

const ChatMessageInput = builder.inputType('ChatMessageInput', {
  fields: (t) => ({
    role: t.field({ type: ChatRole, required: true }),
    content: t.string({ required: true }),
  }),
});

const ObjectiveInput = builder.inputType('ObjectiveInput', {
  description:
    "How this request trades quality against cost and latency, instead of the configured reward weights (for this request's " +
    'routing only; INVALID_OBJECTIVE when out of range).',
  fields: (t) => ({
    costWeight: t.float({ description: 'Quality units worth one reference cost (reward.cost for this request), 0–1000.' }),
    latencyWeight: t.float({ description: 'Quality units worth one reference latency (reward.latency for this request), 0–1000.' }),
    maxCostUsd: t.float({
      description:
        'Ceiling on the expected cost in USD: arms whose mean cost in the context is above it are not considered ' +
        '(an arm never observed is); when none fits, the cheapest expected arm serves.',
    }),
  }),
});

const ChatInput = builder.inputType('ChatInput', {
  fields: (t) => ({
    messages: t.field({ type: [ChatMessageInput], required: true }),
    tags: t.stringList({ description: 'Names the context the request is routed in (e.g. "code").' }),
    arm: t.id({ description: 'Pins an arm, bypassing the bandit.' }),
    maxTokens: t.int(),
    temperature: t.float(),
    cache: t.boolean({ defaultValue: true, description: 'False bypasses the cache for this request.' }),
    objective: t.field({ type: ObjectiveInput, description: "This request's trade-off; absent: the configured one." }),
  }),
});

export const RouteMetricsRef = builder.objectRef<ChatMetrics>('RouteMetrics').implement({
  fields: (t) => ({
    latencyMs: t.float({ resolve: (m) => roundMs(m.latencyMs) }),
    ttftMs: t.float({
      nullable: true,
      description: 'Time to the first token; null when none came.',
      resolve: (m) => roundMsOrNull(m.ttftMs),
    }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    tokensEstimated: t.exposeBoolean('tokensEstimated', {
      description: 'True when the provider reported no usage and tokens were counted with a tokenizer.',
    }),
    costUsd: t.float({ resolve: (m) => roundUsd(m.costUsd) }),
    reward: t.float({
      nullable: true,
      resolve: (m) => roundShareOrNull(m.reward),
      description:
        "This request's utility on the router's scale, in [0, 1]: 1 minus the cost and latency penalty until " +
        'feedback arrives, then the score minus that penalty. Null for cached or shared answers.',
    }),
  }),
});

const ChatRoute = builder.objectRef<ChatRouteEvent>('ChatRoute').implement({
  description: 'The first event of a chat: which arm serves it and how sure the router is.',
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    arm: t.exposeID('armId'),
    model: t.exposeID('modelId'),
    context: t.exposeString('context'),
    confidence: t.exposeFloat('confidence', {
      description: 'Posterior probability that the chosen arm is the best in this context.',
    }),
    cached: t.exposeBoolean('cached'),
    attempts: t.exposeInt('attempts', {
      description: 'Arms tried for this request, the answering one included (1 = no failover; 0 = cache hit).',
    }),
    feedbackToken: t.exposeString('feedbackToken', {
      description:
        'Proves the request is yours: pass it to submitFeedback, submitComparison, request and shadowCall. ' +
        'Required without a client key (with one, the key that made the request is enough). Sent only here.',
    }),
  }),
});

const ChatChunk = builder.objectRef<ChatChunkEvent>('ChatChunk').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    index: t.exposeInt('index'),
    text: t.exposeString('text'),
    words: t.exposeInt('words'),
  }),
});

const ChatDone = builder.objectRef<ChatDoneEvent>('ChatDone').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    feedbackToken: t.exposeString('feedbackToken', { description: "The same as the ChatRoute's feedbackToken." }),
    finishReason: t.exposeString('finishReason'),
    attempts: t.exposeInt('attempts'),
    chunks: t.exposeInt('chunks'),
    metrics: t.field({ type: RouteMetricsRef, resolve: (event) => event.metrics }),
  }),
});

const ChatError = builder.objectRef<ChatErrorEvent>('ChatError').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    partial: t.exposeBoolean('partial', { description: 'True when part of the answer had been sent.' }),
    attempts: t.exposeInt('attempts'),
  }),
});

const ChatEventRef = builder.unionType('ChatEvent', {
  types: [ChatRoute, ChatChunk, ChatDone, ChatError],
  resolveType: (event: ChatEvent) => {
    switch (event.type) {
      case 'route':
        return 'ChatRoute';
      case 'chunk':
        return 'ChatChunk';
      case 'done':
        return 'ChatDone';
      case 'error':
        return 'ChatError';
    }
  },
});

const RequestStatus = builder.enumType('RequestStatus', {
  values: ['STREAMING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const,
});

const Feedback = builder.objectRef<NonNullable<RequestRecord['feedback']>>('Feedback').implement({
  fields: (t) => ({
    score: t.exposeFloat('score'),
    comment: t.exposeString('comment', { nullable: true }),
    receivedAt: t.string({ resolve: (f) => new Date(f.receivedAt).toISOString() }),
  }),
});

const Request = builder.objectRef<RequestRecord>('Request').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    createdAt: t.string({ resolve: (r) => new Date(r.createdAt).toISOString() }),
    status: t.field({
      type: RequestStatus,
      resolve: (r) => r.status.toUpperCase() as 'STREAMING' | 'COMPLETED' | 'FAILED' | 'CANCELLED',
    }),
    arm: t.id({ nullable: true, resolve: (r) => r.decision?.armId ?? null }),
    model: t.id({ nullable: true, resolve: (r) => r.decision?.modelId ?? null }),
    context: t.string({ nullable: true, resolve: (r) => r.decision?.context ?? null }),
    confidence: t.float({ nullable: true, resolve: (r) => r.decision?.confidence ?? null }),
    cached: t.exposeBoolean('cached'),
    attempts: t.exposeInt('attempts'),
    finishReason: t.exposeString('finishReason', { nullable: true }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    metrics: t.field({ type: RouteMetricsRef, nullable: true, resolve: (r) => r.metrics }),
    feedback: t.field({ type: Feedback, nullable: true, resolve: (r) => r.feedback }),
  }),
});

builder.subscriptionFields((t) => ({
    chat: t.field({
      type: ChatEventRef,
      description:
        'Routes and streams one chat: exactly one ChatRoute, then ChatChunks, then one ChatDone or ChatError.',
      args: { input: t.arg({ type: ChatInput, required: true }) },
      subscribe: (_root, { input }, { services, principal, session }) =>
        translateErrors(async () =>
          translateStream(
            await services.gate.chat(principal, {
              messages: input.messages,
              tags: input.tags ?? undefined,
              armId: input.arm ?? undefined,
              maxTokens: input.maxTokens ?? undefined,
              temperature: input.temperature ?? undefined,
              cache: input.cache ?? true,
              objective: input.objective
                ? {
                    costWeight: input.objective.costWeight ?? undefined,
                    latencyWeight: input.objective.latencyWeight ?? undefined,
                    maxCostUsd: input.objective.maxCostUsd ?? undefined,
                  }
                : undefined,
              session,
            }),
          ),
        ),
      resolve: (event) => event,
    }),
}));

builder.queryFields((t) => ({
  request: t.field({
    type: Request,
    nullable: true,
    description:
      'A recent request (kept for the feedback window), or null when unknown, expired or not yours. ' +
      'Without a client key, give the feedbackToken of its ChatRoute (FEEDBACK_TOKEN_REQUIRED otherwise); ' +
      'with one, FORBIDDEN unless the same key made it (or an admin key asks).',
    args: {
      id: t.arg.id({ required: true }),
      feedbackToken: t.arg.string({ description: "The ChatRoute's feedbackToken." }),
    },
    resolve: (_root, { id, feedbackToken }, { services, principal }) =>
      translateErrors(async () => (await services.gate.request(principal, String(id), feedbackToken)) ?? null),
  }),
  recentRequests: t.field({
    type: [Request],
    description:
      `The caller's own recent requests, newest first (at most ${MAX_RECENT_PER_SESSION}): those made in the same ` +
      'session (connectionParams.session over WebSocket, the x-switchyard-session header over HTTP), else on the ' +
      'same WebSocket connection. Empty for a caller with neither.',
    args: { limit: t.arg.int({ defaultValue: 20 }) },
    resolve: (_root, { limit }, { services, session }) => {
      const count = limit ?? 20;
      if (!(count >= 1 && count <= MAX_RECENT_PER_SESSION)) {
        throw userError('LIMIT_OUT_OF_RANGE', `limit must be between 1 and ${MAX_RECENT_PER_SESSION}`);
      }
      return session === null ? [] : services.chat.recentRequests(session, count);
    },
  }),
}));
