/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type CacheStatus =
  /** Still serving, with less: Redis is not configured, not reachable yet, or lost (L1 and upstream answer). */
  | 'DEGRADED'
  /** Off: the cache is disabled, or (L2) no Redis is configured. */
  | 'DISABLED'
  /** Working as configured. */
  | 'OK';

export type ChatInput = {
  /** Pins an arm, bypassing the bandit. */
  arm?: string | null | undefined;
  /** False bypasses the cache for this request. */
  cache?: boolean | null | undefined;
  /** Keep the explanation of the routing decision for request(id) even when ChatRoute.explanation is not selected (selecting it is enough for both). */
  explain?: boolean | null | undefined;
  maxTokens?: number | null | undefined;
  messages: Array<ChatMessageInput>;
  /** This request's trade-off; absent: the configured one. */
  objective?: ObjectiveInput | null | undefined;
  /** Names the context the request is routed in (e.g. "code"). */
  tags?: Array<string> | null | undefined;
  temperature?: number | null | undefined;
};

export type ChatMessageInput = {
  content: string;
  role: ChatRole;
};

export type ChatRole =
  | 'ASSISTANT'
  | 'SYSTEM'
  | 'USER';

/** Exactly one of score, thumbs or rating. */
export type FeedbackInput = {
  comment?: string | null | undefined;
  /** The ChatRoute's feedbackToken: required without a client key (with one, the key that made the request is enough). */
  feedbackToken?: string | null | undefined;
  /** From 1 to 5, counted as (rating - 1) / 4. */
  rating?: number | null | undefined;
  requestId: string;
  /** From 0 (useless) to 1 (perfect). */
  score?: number | null | undefined;
  /** UP counts as 1, DOWN as 0. */
  thumbs?: Thumbs | null | undefined;
};

export type ModelStatus =
  /** Circuit closed but the recent error rate is high. */
  | 'DEGRADED'
  /** One probe request is allowed through. */
  | 'HALF_OPEN'
  /** Circuit closed, error rate normal. */
  | 'HEALTHY'
  /** Circuit open: the router skips this model. */
  | 'OPEN';

/** How this request trades quality against cost and latency, instead of the configured reward weights (for this request's routing only; INVALID_OBJECTIVE when out of range). */
export type ObjectiveInput = {
  /** Quality units worth one reference cost (reward.cost for this request), 0–1000. */
  costWeight?: number | null | undefined;
  /** Quality units worth one reference latency (reward.latency for this request), 0–1000. */
  latencyWeight?: number | null | undefined;
  /** Ceiling on the expected cost in USD: arms whose mean cost in the context is above it are not considered (an arm never observed is); when none fits, the cheapest expected arm serves. */
  maxCostUsd?: number | null | undefined;
};

export type RecommendationKind =
  /** A cheaper arm whose reward is as good as the best arm's in a context. */
  | 'CHEAPER_ARM_AS_GOOD'
  /** An arm almost never best after many pulls. */
  | 'DISABLE_ARM'
  /** A model's error rate or latency in the last minute is worse than its baseline. */
  | 'MODEL_DEGRADED';

export type RequestStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'STREAMING';

export type ShadowPause =
  /** Shadow spend over the last 60 s reached budgetUsdPerMinute. */
  | 'BUDGET'
  /** maxConcurrent shadow calls are in flight. */
  | 'CONCURRENCY';

export type Thumbs =
  | 'DOWN'
  | 'UP';

export type ConsoleBanditFragment = { pulls: number, posteriorMean: number, lower95: number, upper95: number, probabilityBest: number };

export type ConsolePercentilesFragment = { p50: number, p95: number, p99: number, count: number };

export type ConsoleWindowFragment = { requests: number, errors: number, refused: number, errorRate: number, cachedRequests: number, shadowRequests: number, tokensPerSecond: number | null, spendUsd: number, meanReward: number | null, rewards: number, latencyMs: { p50: number, p95: number, p99: number, count: number } | null, ttftMs: { p50: number, p95: number, p99: number, count: number } | null };

export type ConsoleMetricsSubscriptionVariables = Exact<{
  intervalMs: number;
}>;


export type ConsoleMetricsSubscription = { metrics: { generatedAt: string, startedAt: string, regret: number, arms: Array<{ arm: string, model: string, bandit: { pulls: number, posteriorMean: number, lower95: number, upper95: number, probabilityBest: number } | null, windows: { lastMinute: { requests: number, errors: number, refused: number, errorRate: number, cachedRequests: number, shadowRequests: number, tokensPerSecond: number | null, spendUsd: number, meanReward: number | null, rewards: number, latencyMs: { p50: number, p95: number, p99: number, count: number } | null, ttftMs: { p50: number, p95: number, p99: number, count: number } | null }, lastHour: { requests: number, errors: number, refused: number, errorRate: number, cachedRequests: number, shadowRequests: number, tokensPerSecond: number | null, spendUsd: number, meanReward: number | null, rewards: number, latencyMs: { p50: number, p95: number, p99: number, count: number } | null, ttftMs: { p50: number, p95: number, p99: number, count: number } | null }, sinceStart: { requests: number, errors: number, refused: number, errorRate: number, cachedRequests: number, shadowRequests: number, tokensPerSecond: number | null, spendUsd: number, meanReward: number | null, rewards: number, latencyMs: { p50: number, p95: number, p99: number, count: number } | null, ttftMs: { p50: number, p95: number, p99: number, count: number } | null } } }>, contexts: Array<{ context: string, bestArm: string | null, regret: number, arms: Array<{ arm: string, model: string, bandit: { pulls: number, posteriorMean: number, lower95: number, upper95: number, probabilityBest: number } | null, windows: { lastMinute: { requests: number } } }> }>, recommendations: Array<{ kind: RecommendationKind, subject: string, context: string, message: string, figures: Array<{ name: string, value: number }> }> } };

export type ConsoleOverviewQueryVariables = Exact<{ [key: string]: never; }>;


export type ConsoleOverviewQuery = { armsInContext: Array<{ id: string, arm: { id: string, model: string, enabled: boolean } }>, models: Array<{ id: string, provider: string, status: ModelStatus }>, cache: { status: CacheStatus, hits: number, misses: number, hitRate: number, l1: { status: CacheStatus, entries: number | null, bytes: number | null, hitRate: number }, l2: { status: CacheStatus, entries: number | null, hitRate: number }, ttl: { baseSeconds: number, minSeconds: number, maxSeconds: number, windowSeconds: number, windowLookups: number, windowHitRate: number } }, shadow: { rate: number, arm: string, budgetUsdPerMinute: number, eligible: number, calls: number, inFlight: number, completed: number, failed: number, spendUsd: number, spendLastMinuteUsd: number, paused: ShadowPause | null, comparisons: number, skipped: { total: number }, arms: Array<{ arm: string, calls: number, spendUsd: number, comparisons: number, shadowPreferred: number, primaryPreferred: number, ties: number }> } };

export type ConsoleArmInContextFragment = { id: string, context: string, pulls: number, probabilityBest: number, arm: { id: string, enabled: boolean }, posterior: { mean: number, lower95: number, upper95: number } };

export type ConsoleArmsInContextQueryVariables = Exact<{
  context?: string | null | undefined;
}>;


export type ConsoleArmsInContextQuery = { armsInContext: Array<{ id: string, context: string, pulls: number, probabilityBest: number, arm: { id: string, enabled: boolean }, posterior: { mean: number, lower95: number, upper95: number } }> };

export type ConsoleChatSubscriptionVariables = Exact<{
  input: ChatInput;
}>;


export type ConsoleChatSubscription = { chat:
    | { __typename: 'ChatChunk', requestId: string, index: number, text: string }
    | { __typename: 'ChatDone', requestId: string, finishReason: string, attempts: number, chunks: number, metrics: { latencyMs: number, ttftMs: number | null, promptTokens: number, completionTokens: number, tokensEstimated: boolean, costUsd: number, reward: number | null } }
    | { __typename: 'ChatError', requestId: string, code: string, message: string, partial: boolean, attempts: number }
    | { __typename: 'ChatRoute', requestId: string, arm: string, model: string, context: string, confidence: number, cached: boolean, attempts: number, feedbackToken: string }
   };

export type ConsoleFeedbackMutationVariables = Exact<{
  input: FeedbackInput;
}>;


export type ConsoleFeedbackMutation = { submitFeedback: { requestId: string, score: number, learned: boolean, evicted: boolean, context: string, armInContext: { id: string, context: string, pulls: number, probabilityBest: number, arm: { id: string, enabled: boolean }, posterior: { mean: number, lower95: number, upper95: number } } } };

export type ConsoleRecentRequestsQueryVariables = Exact<{
  limit?: number | null | undefined;
}>;


export type ConsoleRecentRequestsQuery = { recentRequests: Array<{ id: string, createdAt: string, status: RequestStatus, arm: string | null, context: string | null, cached: boolean, errorCode: string | null, metrics: { latencyMs: number, costUsd: number } | null, feedback: { score: number } | null }> };

export type ConsoleSetArmEnabledMutationVariables = Exact<{
  id: string;
  enabled: boolean;
}>;


export type ConsoleSetArmEnabledMutation = { setArmEnabled: { id: string, enabled: boolean } };

export type ConsoleSetShadowRateMutationVariables = Exact<{
  rate: number;
}>;


export type ConsoleSetShadowRateMutation = { setShadowRate: { rate: number } };

export type ConsoleInvalidateCacheMutationVariables = Exact<{
  prefix?: string | null | undefined;
}>;


export type ConsoleInvalidateCacheMutation = { invalidateCache: number };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ConsoleBanditFragmentDoc = new TypedDocumentString(`
    fragment ConsoleBandit on BanditFigures {
  pulls
  posteriorMean
  lower95
  upper95
  probabilityBest
}
    `, {"fragmentName":"ConsoleBandit"}) as unknown as TypedDocumentString<ConsoleBanditFragment, unknown>;
export const ConsolePercentilesFragmentDoc = new TypedDocumentString(`
    fragment ConsolePercentiles on Percentiles {
  p50
  p95
  p99
  count
}
    `, {"fragmentName":"ConsolePercentiles"}) as unknown as TypedDocumentString<ConsolePercentilesFragment, unknown>;
export const ConsoleWindowFragmentDoc = new TypedDocumentString(`
    fragment ConsoleWindow on WindowFigures {
  requests
  errors
  refused
  errorRate
  cachedRequests
  shadowRequests
  latencyMs {
    ...ConsolePercentiles
  }
  ttftMs {
    ...ConsolePercentiles
  }
  tokensPerSecond
  spendUsd
  meanReward
  rewards
}
    fragment ConsolePercentiles on Percentiles {
  p50
  p95
  p99
  count
}`, {"fragmentName":"ConsoleWindow"}) as unknown as TypedDocumentString<ConsoleWindowFragment, unknown>;
export const ConsoleArmInContextFragmentDoc = new TypedDocumentString(`
    fragment ConsoleArmInContext on ArmInContext {
  id
  context
  arm {
    id
    enabled
  }
  pulls
  probabilityBest
  posterior {
    mean
    lower95
    upper95
  }
}
    `, {"fragmentName":"ConsoleArmInContext"}) as unknown as TypedDocumentString<ConsoleArmInContextFragment, unknown>;
export const ConsoleMetricsDocument = new TypedDocumentString(`
    subscription ConsoleMetrics($intervalMs: Int!) {
  metrics(intervalMs: $intervalMs) {
    generatedAt
    startedAt
    regret
    arms {
      arm
      model
      bandit {
        ...ConsoleBandit
      }
      windows {
        lastMinute {
          ...ConsoleWindow
        }
        lastHour {
          ...ConsoleWindow
        }
        sinceStart {
          ...ConsoleWindow
        }
      }
    }
    contexts {
      context
      bestArm
      regret
      arms {
        arm
        model
        bandit {
          ...ConsoleBandit
        }
        windows {
          lastMinute {
            requests
          }
        }
      }
    }
    recommendations {
      kind
      subject
      context
      message
      figures {
        name
        value
      }
    }
  }
}
    fragment ConsoleBandit on BanditFigures {
  pulls
  posteriorMean
  lower95
  upper95
  probabilityBest
}
fragment ConsolePercentiles on Percentiles {
  p50
  p95
  p99
  count
}
fragment ConsoleWindow on WindowFigures {
  requests
  errors
  refused
  errorRate
  cachedRequests
  shadowRequests
  latencyMs {
    ...ConsolePercentiles
  }
  ttftMs {
    ...ConsolePercentiles
  }
  tokensPerSecond
  spendUsd
  meanReward
  rewards
}`) as unknown as TypedDocumentString<ConsoleMetricsSubscription, ConsoleMetricsSubscriptionVariables>;
export const ConsoleOverviewDocument = new TypedDocumentString(`
    query ConsoleOverview {
  armsInContext {
    id
    arm {
      id
      model
      enabled
    }
  }
  models {
    id
    provider
    status
  }
  cache {
    status
    hits
    misses
    hitRate
    l1 {
      status
      entries
      bytes
      hitRate
    }
    l2 {
      status
      entries
      hitRate
    }
    ttl {
      baseSeconds
      minSeconds
      maxSeconds
      windowSeconds
      windowLookups
      windowHitRate
    }
  }
  shadow {
    rate
    arm
    budgetUsdPerMinute
    eligible
    calls
    inFlight
    completed
    failed
    spendUsd
    spendLastMinuteUsd
    paused
    comparisons
    skipped {
      total
    }
    arms {
      arm
      calls
      spendUsd
      comparisons
      shadowPreferred
      primaryPreferred
      ties
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleOverviewQuery, ConsoleOverviewQueryVariables>;
export const ConsoleArmsInContextDocument = new TypedDocumentString(`
    query ConsoleArmsInContext($context: String) {
  armsInContext(context: $context) {
    ...ConsoleArmInContext
  }
}
    fragment ConsoleArmInContext on ArmInContext {
  id
  context
  arm {
    id
    enabled
  }
  pulls
  probabilityBest
  posterior {
    mean
    lower95
    upper95
  }
}`) as unknown as TypedDocumentString<ConsoleArmsInContextQuery, ConsoleArmsInContextQueryVariables>;
export const ConsoleChatDocument = new TypedDocumentString(`
    subscription ConsoleChat($input: ChatInput!) {
  chat(input: $input) {
    __typename
    ... on ChatRoute {
      requestId
      arm
      model
      context
      confidence
      cached
      attempts
      feedbackToken
    }
    ... on ChatChunk {
      requestId
      index
      text
    }
    ... on ChatDone {
      requestId
      finishReason
      attempts
      chunks
      metrics {
        latencyMs
        ttftMs
        promptTokens
        completionTokens
        tokensEstimated
        costUsd
        reward
      }
    }
    ... on ChatError {
      requestId
      code
      message
      partial
      attempts
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleChatSubscription, ConsoleChatSubscriptionVariables>;
export const ConsoleFeedbackDocument = new TypedDocumentString(`
    mutation ConsoleFeedback($input: FeedbackInput!) {
  submitFeedback(input: $input) {
    requestId
    score
    learned
    evicted
    context
    armInContext {
      ...ConsoleArmInContext
    }
  }
}
    fragment ConsoleArmInContext on ArmInContext {
  id
  context
  arm {
    id
    enabled
  }
  pulls
  probabilityBest
  posterior {
    mean
    lower95
    upper95
  }
}`) as unknown as TypedDocumentString<ConsoleFeedbackMutation, ConsoleFeedbackMutationVariables>;
export const ConsoleRecentRequestsDocument = new TypedDocumentString(`
    query ConsoleRecentRequests($limit: Int) {
  recentRequests(limit: $limit) {
    id
    createdAt
    status
    arm
    context
    cached
    errorCode
    metrics {
      latencyMs
      costUsd
    }
    feedback {
      score
    }
  }
}
    `) as unknown as TypedDocumentString<ConsoleRecentRequestsQuery, ConsoleRecentRequestsQueryVariables>;
export const ConsoleSetArmEnabledDocument = new TypedDocumentString(`
    mutation ConsoleSetArmEnabled($id: ID!, $enabled: Boolean!) {
  setArmEnabled(id: $id, enabled: $enabled) {
    id
    enabled
  }
}
    `) as unknown as TypedDocumentString<ConsoleSetArmEnabledMutation, ConsoleSetArmEnabledMutationVariables>;
export const ConsoleSetShadowRateDocument = new TypedDocumentString(`
    mutation ConsoleSetShadowRate($rate: Float!) {
  setShadowRate(rate: $rate) {
    rate
  }
}
    `) as unknown as TypedDocumentString<ConsoleSetShadowRateMutation, ConsoleSetShadowRateMutationVariables>;
export const ConsoleInvalidateCacheDocument = new TypedDocumentString(`
    mutation ConsoleInvalidateCache($prefix: String) {
  invalidateCache(prefix: $prefix)
}
    `) as unknown as TypedDocumentString<ConsoleInvalidateCacheMutation, ConsoleInvalidateCacheMutationVariables>;