/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
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
  maxTokens?: number | null | undefined;
  messages: Array<ChatMessageInput>;
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

export type RequestStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'STREAMING';

export type Thumbs =
  | 'DOWN'
  | 'UP';

export type ArmsQueryVariables = Exact<{
  context?: string | null | undefined;
}>;


export type ArmsQuery = { arms: Array<{ id: string, model: string, enabled: boolean, pulls: number, rewardMean: number | null, probabilityBest: number, posterior: { alpha: number, beta: number, mean: number, lower95: number, upper95: number } }> };

export type SetArmEnabledMutationVariables = Exact<{
  id: string;
  enabled: boolean;
}>;


export type SetArmEnabledMutation = { setArmEnabled: { id: string, enabled: boolean } };

export type CacheQueryVariables = Exact<{ [key: string]: never; }>;


export type CacheQuery = { cache: { status: CacheStatus, hits: number, misses: number, hitRate: number, l1: { status: CacheStatus, entries: number | null, bytes: number | null, hits: number, misses: number, hitRate: number, ttlSeconds: number, countedAt: string | null }, l2: { status: CacheStatus, entries: number | null, bytes: number | null, hits: number, misses: number, hitRate: number, ttlSeconds: number, countedAt: string | null }, ttl: { baseSeconds: number, minSeconds: number, maxSeconds: number, hitGrowth: number, windowSeconds: number, minSamples: number, windowLookups: number, windowHitRate: number } } };

export type CacheLayerFieldsFragment = { status: CacheStatus, entries: number | null, bytes: number | null, hits: number, misses: number, hitRate: number, ttlSeconds: number, countedAt: string | null };

export type InvalidateCacheMutationVariables = Exact<{
  prefix?: string | null | undefined;
}>;


export type InvalidateCacheMutation = { invalidateCache: number };

export type ChatSubscriptionVariables = Exact<{
  input: ChatInput;
}>;


export type ChatSubscription = { chat:
    | { __typename: 'ChatChunk', requestId: string, index: number, text: string, words: number }
    | { __typename: 'ChatDone', requestId: string, finishReason: string, attempts: number, chunks: number, metrics: { latencyMs: number, ttftMs: number | null, promptTokens: number, completionTokens: number, tokensEstimated: boolean, costUsd: number, reward: number | null } }
    | { __typename: 'ChatError', requestId: string, code: string, message: string, partial: boolean, attempts: number }
    | { __typename: 'ChatRoute', requestId: string, arm: string, model: string, context: string, confidence: number, cached: boolean, attempts: number }
   };

export type SubmitFeedbackMutationVariables = Exact<{
  input: FeedbackInput;
}>;


export type SubmitFeedbackMutation = { submitFeedback: { requestId: string, score: number, learned: boolean, evicted: boolean, arm: { id: string, pulls: number, rewardMean: number | null, posterior: { alpha: number, beta: number, mean: number, lower95: number, upper95: number } } } };

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { models: Array<{ id: string, provider: string, status: ModelStatus, requests: number, failures: number, consecutiveFailures: number, errorRate: number, latencyMs: number | null, ttftMs: number | null, retryAfter: string | null, inputPer1k: number, outputPer1k: number, quality: number | null }> };

export type RequestQueryVariables = Exact<{
  id: string;
}>;


export type RequestQuery = { request: { id: string, status: RequestStatus, arm: string | null, model: string | null, context: string | null, confidence: number | null, cached: boolean, attempts: number, finishReason: string | null, errorCode: string | null, metrics: { latencyMs: number, ttftMs: number | null, costUsd: number, reward: number | null } | null, feedback: { score: number, comment: string | null } | null } | null };

export const CacheLayerFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CacheLayerFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CacheLayer"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"entries"}},{"kind":"Field","name":{"kind":"Name","value":"bytes"}},{"kind":"Field","name":{"kind":"Name","value":"hits"}},{"kind":"Field","name":{"kind":"Name","value":"misses"}},{"kind":"Field","name":{"kind":"Name","value":"hitRate"}},{"kind":"Field","name":{"kind":"Name","value":"ttlSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"countedAt"}}]}}]} as unknown as DocumentNode<CacheLayerFieldsFragment, unknown>;
export const ArmsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Arms"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"context"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"arms"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"context"},"value":{"kind":"Variable","name":{"kind":"Name","value":"context"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"pulls"}},{"kind":"Field","name":{"kind":"Name","value":"rewardMean"}},{"kind":"Field","name":{"kind":"Name","value":"probabilityBest"}},{"kind":"Field","name":{"kind":"Name","value":"posterior"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"alpha"}},{"kind":"Field","name":{"kind":"Name","value":"beta"}},{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"lower95"}},{"kind":"Field","name":{"kind":"Name","value":"upper95"}}]}}]}}]}}]} as unknown as DocumentNode<ArmsQuery, ArmsQueryVariables>;
export const SetArmEnabledDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetArmEnabled"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setArmEnabled"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}}]}}]}}]} as unknown as DocumentNode<SetArmEnabledMutation, SetArmEnabledMutationVariables>;
export const CacheDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Cache"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cache"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"hits"}},{"kind":"Field","name":{"kind":"Name","value":"misses"}},{"kind":"Field","name":{"kind":"Name","value":"hitRate"}},{"kind":"Field","name":{"kind":"Name","value":"l1"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"CacheLayerFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"l2"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"CacheLayerFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"ttl"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"baseSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"minSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"maxSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"hitGrowth"}},{"kind":"Field","name":{"kind":"Name","value":"windowSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"minSamples"}},{"kind":"Field","name":{"kind":"Name","value":"windowLookups"}},{"kind":"Field","name":{"kind":"Name","value":"windowHitRate"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"CacheLayerFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CacheLayer"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"entries"}},{"kind":"Field","name":{"kind":"Name","value":"bytes"}},{"kind":"Field","name":{"kind":"Name","value":"hits"}},{"kind":"Field","name":{"kind":"Name","value":"misses"}},{"kind":"Field","name":{"kind":"Name","value":"hitRate"}},{"kind":"Field","name":{"kind":"Name","value":"ttlSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"countedAt"}}]}}]} as unknown as DocumentNode<CacheQuery, CacheQueryVariables>;
export const InvalidateCacheDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"InvalidateCache"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"invalidateCache"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"prefix"},"value":{"kind":"Variable","name":{"kind":"Name","value":"prefix"}}}]}]}}]} as unknown as DocumentNode<InvalidateCacheMutation, InvalidateCacheMutationVariables>;
export const ChatDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"Chat"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ChatInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"chat"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatRoute"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"arm"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"context"}},{"kind":"Field","name":{"kind":"Name","value":"confidence"}},{"kind":"Field","name":{"kind":"Name","value":"cached"}},{"kind":"Field","name":{"kind":"Name","value":"attempts"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatChunk"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"text"}},{"kind":"Field","name":{"kind":"Name","value":"words"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatDone"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"finishReason"}},{"kind":"Field","name":{"kind":"Name","value":"attempts"}},{"kind":"Field","name":{"kind":"Name","value":"chunks"}},{"kind":"Field","name":{"kind":"Name","value":"metrics"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"ttftMs"}},{"kind":"Field","name":{"kind":"Name","value":"promptTokens"}},{"kind":"Field","name":{"kind":"Name","value":"completionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"tokensEstimated"}},{"kind":"Field","name":{"kind":"Name","value":"costUsd"}},{"kind":"Field","name":{"kind":"Name","value":"reward"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"partial"}},{"kind":"Field","name":{"kind":"Name","value":"attempts"}}]}}]}}]}}]} as unknown as DocumentNode<ChatSubscription, ChatSubscriptionVariables>;
export const SubmitFeedbackDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SubmitFeedback"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"FeedbackInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"submitFeedback"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"score"}},{"kind":"Field","name":{"kind":"Name","value":"learned"}},{"kind":"Field","name":{"kind":"Name","value":"evicted"}},{"kind":"Field","name":{"kind":"Name","value":"arm"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"pulls"}},{"kind":"Field","name":{"kind":"Name","value":"rewardMean"}},{"kind":"Field","name":{"kind":"Name","value":"posterior"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"alpha"}},{"kind":"Field","name":{"kind":"Name","value":"beta"}},{"kind":"Field","name":{"kind":"Name","value":"mean"}},{"kind":"Field","name":{"kind":"Name","value":"lower95"}},{"kind":"Field","name":{"kind":"Name","value":"upper95"}}]}}]}}]}}]}}]} as unknown as DocumentNode<SubmitFeedbackMutation, SubmitFeedbackMutationVariables>;
export const ModelsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"requests"}},{"kind":"Field","name":{"kind":"Name","value":"failures"}},{"kind":"Field","name":{"kind":"Name","value":"consecutiveFailures"}},{"kind":"Field","name":{"kind":"Name","value":"errorRate"}},{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"ttftMs"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfter"}},{"kind":"Field","name":{"kind":"Name","value":"inputPer1k"}},{"kind":"Field","name":{"kind":"Name","value":"outputPer1k"}},{"kind":"Field","name":{"kind":"Name","value":"quality"}}]}}]}}]} as unknown as DocumentNode<ModelsQuery, ModelsQueryVariables>;
export const RequestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Request"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"request"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"arm"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"context"}},{"kind":"Field","name":{"kind":"Name","value":"confidence"}},{"kind":"Field","name":{"kind":"Name","value":"cached"}},{"kind":"Field","name":{"kind":"Name","value":"attempts"}},{"kind":"Field","name":{"kind":"Name","value":"finishReason"}},{"kind":"Field","name":{"kind":"Name","value":"errorCode"}},{"kind":"Field","name":{"kind":"Name","value":"metrics"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"latencyMs"}},{"kind":"Field","name":{"kind":"Name","value":"ttftMs"}},{"kind":"Field","name":{"kind":"Name","value":"costUsd"}},{"kind":"Field","name":{"kind":"Name","value":"reward"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feedback"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"score"}},{"kind":"Field","name":{"kind":"Name","value":"comment"}}]}}]}}]}}]} as unknown as DocumentNode<RequestQuery, RequestQueryVariables>;