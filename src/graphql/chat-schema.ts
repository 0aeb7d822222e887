import type { ChatChunkEvent, ChatDoneEvent, ChatErrorEvent, ChatEvent, ChatMetrics, ChatRouteEvent } from '../chat/chat-events.js';
import { MAX_RECENT_PER_SESSION, type RequestRecord } from '../chat/request-store.js';
import type { CandidateExplanation, RouteExplanation } from '../router/route-explanation.js';
import { builder } from './builder.js';
import { roundMs, roundMsOrNull, roundShare, roundShareOrNull, roundUsd } from './display-rounding.js';
import { translateErrors, translateStream, userError } from './errors.js';
import { selectsField } from './field-selection.js';

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
    explain: t.boolean({
      description:
        'Keep the explanation of the routing decision for request(id) even when ChatRoute.explanation is not selected ' +
        '(selecting it is enough for both).',
    }),
  }),
});

const RouteSelection = builder.enumType('RouteSelection', {
  description: 'How the serving arm was picked.',
  values: {
    POLICY: { value: 'policy', description: "The bandit policy's decision over the candidates." },
    PINNED: { value: 'pinned', description: 'ChatInput.arm pinned it.' },
    CACHED: { value: 'cached', description: "A cached answer's arm (no routing decision was made)." },
    FAILOVER: { value: 'failover', description: 'The remaining arm with the highest posterior mean after an arm failed.' },
  } as const,
});

const RouteCandidate = builder.objectRef<CandidateExplanation>('RouteCandidate').implement({
  fields: (t) => ({
    arm: t.exposeID('armId'),
    sampledUtility: t.float({
      nullable: true,
      description:
        'The utility the policy scored the arm with in this decision (Thompson sampling: the quality drawn from its posterior ' +
        'minus its cost and latency penalty); null when no draw was made (PINNED, CACHED, FAILOVER).',
      resolve: (c) => roundShareOrNull(c.sampledUtility),
    }),
    meanUtility: t.float({
      description: 'The mean of the quality distribution the arm was scored from, minus its penalty.',
      resolve: (c) => roundShare(c.meanUtility),
    }),
    expectedCostUsd: t.float({
      nullable: true,
      description: "The arm's decayed mean cost per call in the context; null before any call was observed (it counts as free).",
      resolve: (c) => (c.expectedCostUsd === null ? null : roundUsd(c.expectedCostUsd)),
    }),
    chosen: t.exposeBoolean('chosen'),
  }),
});

const RouteExplanationRef = builder.objectRef<RouteExplanation>('RouteExplanation').implement({
  description: 'Why the request went to its arm: computed only when selected (or ChatInput.explain), so it costs nothing otherwise.',
  fields: (t) => ({
    selection: t.field({ type: RouteSelection, resolve: (e) => e.selection }),
    policy: t.exposeString('policy', { description: 'bandit.policy: thompson, ucb1 or egreedy.' }),
    candidates: t.field({
      type: [RouteCandidate],
      description: 'The arms considered (enabled, model available, within the objective\'s cost ceiling), highest sampled utility first.',
      resolve: (e) => e.candidates,
    }),
    selectionProbability: t.float({
      nullable: true,
      description:
        "The chosen arm's probability of being picked given the candidates' distributions (Thompson sampling: that its draw " +
        'is the highest; ucb1 and egreedy: the posterior probability that it is best), by the routing-confidence normal ' +
        'approximation. Null when the policy did not pick it (PINNED, CACHED, FAILOVER).',
      resolve: (e) => roundShareOrNull(e.selectionProbability),
    }),
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
    explanation: t.field({
      type: RouteExplanationRef,
      nullable: true,
      description: 'Why this arm: the candidates, their sampled and mean utilities and expected costs. Built only when selected.',
      resolve: (event) => event.explanation,
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
    explanation: t.field({
      type: RouteExplanationRef,
      nullable: true,
      description: 'The routing decision explained, when the chat selected ChatRoute.explanation or set ChatInput.explain; else null.',
      resolve: (r) => r.decision?.explanation ?? null,
    }),
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
      subscribe: (_root, { input }, { services, principal, session }, info) =>
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
              explain: input.explain === true || selectsField(info, 'ChatRoute', 'explanation'),
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
      'same WebSocket connection. Empty for a caller with neither. With shared learning, a session\'s ended requests ' +
      'are listed by every instance (docs/scaling.md).',
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
