/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query Arms($context: String) {\n  arms(context: $context) {\n    id\n    model\n    enabled\n    pulls\n    rewardMean\n    probabilityBest\n    posterior {\n      alpha\n      beta\n      mean\n      lower95\n      upper95\n    }\n  }\n}\n\nmutation SetArmEnabled($id: ID!, $enabled: Boolean!) {\n  setArmEnabled(id: $id, enabled: $enabled) {\n    id\n    enabled\n  }\n}": typeof types.ArmsDocument,
    "query Cache {\n  cache {\n    status\n    hits\n    misses\n    hitRate\n    l1 {\n      ...CacheLayerFields\n    }\n    l2 {\n      ...CacheLayerFields\n    }\n    ttl {\n      baseSeconds\n      minSeconds\n      maxSeconds\n      hitGrowth\n      windowSeconds\n      minSamples\n      windowLookups\n      windowHitRate\n    }\n  }\n}\n\nfragment CacheLayerFields on CacheLayer {\n  status\n  entries\n  bytes\n  hits\n  misses\n  hitRate\n  ttlSeconds\n  countedAt\n}\n\nmutation InvalidateCache($prefix: String) {\n  invalidateCache(prefix: $prefix)\n}": typeof types.CacheDocument,
    "subscription Chat($input: ChatInput!) {\n  chat(input: $input) {\n    __typename\n    ... on ChatRoute {\n      requestId\n      arm\n      model\n      context\n      confidence\n      cached\n      attempts\n    }\n    ... on ChatChunk {\n      requestId\n      index\n      text\n      words\n    }\n    ... on ChatDone {\n      requestId\n      finishReason\n      attempts\n      chunks\n      metrics {\n        latencyMs\n        ttftMs\n        promptTokens\n        completionTokens\n        tokensEstimated\n        costUsd\n        reward\n      }\n    }\n    ... on ChatError {\n      requestId\n      code\n      message\n      partial\n      attempts\n    }\n  }\n}": typeof types.ChatDocument,
    "mutation SubmitFeedback($input: FeedbackInput!) {\n  submitFeedback(input: $input) {\n    requestId\n    score\n    learned\n    evicted\n    arm {\n      id\n      pulls\n      rewardMean\n      posterior {\n        alpha\n        beta\n        mean\n        lower95\n        upper95\n      }\n    }\n  }\n}": typeof types.SubmitFeedbackDocument,
    "query Models {\n  models {\n    id\n    provider\n    status\n    requests\n    failures\n    consecutiveFailures\n    errorRate\n    latencyMs\n    ttftMs\n    retryAfter\n    inputPer1k\n    outputPer1k\n    quality\n  }\n}": typeof types.ModelsDocument,
    "query Request($id: ID!) {\n  request(id: $id) {\n    id\n    status\n    arm\n    model\n    context\n    confidence\n    cached\n    attempts\n    finishReason\n    errorCode\n    metrics {\n      latencyMs\n      ttftMs\n      costUsd\n      reward\n    }\n    feedback {\n      score\n      comment\n    }\n  }\n}": typeof types.RequestDocument,
};
const documents: Documents = {
    "query Arms($context: String) {\n  arms(context: $context) {\n    id\n    model\n    enabled\n    pulls\n    rewardMean\n    probabilityBest\n    posterior {\n      alpha\n      beta\n      mean\n      lower95\n      upper95\n    }\n  }\n}\n\nmutation SetArmEnabled($id: ID!, $enabled: Boolean!) {\n  setArmEnabled(id: $id, enabled: $enabled) {\n    id\n    enabled\n  }\n}": types.ArmsDocument,
    "query Cache {\n  cache {\n    status\n    hits\n    misses\n    hitRate\n    l1 {\n      ...CacheLayerFields\n    }\n    l2 {\n      ...CacheLayerFields\n    }\n    ttl {\n      baseSeconds\n      minSeconds\n      maxSeconds\n      hitGrowth\n      windowSeconds\n      minSamples\n      windowLookups\n      windowHitRate\n    }\n  }\n}\n\nfragment CacheLayerFields on CacheLayer {\n  status\n  entries\n  bytes\n  hits\n  misses\n  hitRate\n  ttlSeconds\n  countedAt\n}\n\nmutation InvalidateCache($prefix: String) {\n  invalidateCache(prefix: $prefix)\n}": types.CacheDocument,
    "subscription Chat($input: ChatInput!) {\n  chat(input: $input) {\n    __typename\n    ... on ChatRoute {\n      requestId\n      arm\n      model\n      context\n      confidence\n      cached\n      attempts\n    }\n    ... on ChatChunk {\n      requestId\n      index\n      text\n      words\n    }\n    ... on ChatDone {\n      requestId\n      finishReason\n      attempts\n      chunks\n      metrics {\n        latencyMs\n        ttftMs\n        promptTokens\n        completionTokens\n        tokensEstimated\n        costUsd\n        reward\n      }\n    }\n    ... on ChatError {\n      requestId\n      code\n      message\n      partial\n      attempts\n    }\n  }\n}": types.ChatDocument,
    "mutation SubmitFeedback($input: FeedbackInput!) {\n  submitFeedback(input: $input) {\n    requestId\n    score\n    learned\n    evicted\n    arm {\n      id\n      pulls\n      rewardMean\n      posterior {\n        alpha\n        beta\n        mean\n        lower95\n        upper95\n      }\n    }\n  }\n}": types.SubmitFeedbackDocument,
    "query Models {\n  models {\n    id\n    provider\n    status\n    requests\n    failures\n    consecutiveFailures\n    errorRate\n    latencyMs\n    ttftMs\n    retryAfter\n    inputPer1k\n    outputPer1k\n    quality\n  }\n}": types.ModelsDocument,
    "query Request($id: ID!) {\n  request(id: $id) {\n    id\n    status\n    arm\n    model\n    context\n    confidence\n    cached\n    attempts\n    finishReason\n    errorCode\n    metrics {\n      latencyMs\n      ttftMs\n      costUsd\n      reward\n    }\n    feedback {\n      score\n      comment\n    }\n  }\n}": types.RequestDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Arms($context: String) {\n  arms(context: $context) {\n    id\n    model\n    enabled\n    pulls\n    rewardMean\n    probabilityBest\n    posterior {\n      alpha\n      beta\n      mean\n      lower95\n      upper95\n    }\n  }\n}\n\nmutation SetArmEnabled($id: ID!, $enabled: Boolean!) {\n  setArmEnabled(id: $id, enabled: $enabled) {\n    id\n    enabled\n  }\n}"): (typeof documents)["query Arms($context: String) {\n  arms(context: $context) {\n    id\n    model\n    enabled\n    pulls\n    rewardMean\n    probabilityBest\n    posterior {\n      alpha\n      beta\n      mean\n      lower95\n      upper95\n    }\n  }\n}\n\nmutation SetArmEnabled($id: ID!, $enabled: Boolean!) {\n  setArmEnabled(id: $id, enabled: $enabled) {\n    id\n    enabled\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Cache {\n  cache {\n    status\n    hits\n    misses\n    hitRate\n    l1 {\n      ...CacheLayerFields\n    }\n    l2 {\n      ...CacheLayerFields\n    }\n    ttl {\n      baseSeconds\n      minSeconds\n      maxSeconds\n      hitGrowth\n      windowSeconds\n      minSamples\n      windowLookups\n      windowHitRate\n    }\n  }\n}\n\nfragment CacheLayerFields on CacheLayer {\n  status\n  entries\n  bytes\n  hits\n  misses\n  hitRate\n  ttlSeconds\n  countedAt\n}\n\nmutation InvalidateCache($prefix: String) {\n  invalidateCache(prefix: $prefix)\n}"): (typeof documents)["query Cache {\n  cache {\n    status\n    hits\n    misses\n    hitRate\n    l1 {\n      ...CacheLayerFields\n    }\n    l2 {\n      ...CacheLayerFields\n    }\n    ttl {\n      baseSeconds\n      minSeconds\n      maxSeconds\n      hitGrowth\n      windowSeconds\n      minSamples\n      windowLookups\n      windowHitRate\n    }\n  }\n}\n\nfragment CacheLayerFields on CacheLayer {\n  status\n  entries\n  bytes\n  hits\n  misses\n  hitRate\n  ttlSeconds\n  countedAt\n}\n\nmutation InvalidateCache($prefix: String) {\n  invalidateCache(prefix: $prefix)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription Chat($input: ChatInput!) {\n  chat(input: $input) {\n    __typename\n    ... on ChatRoute {\n      requestId\n      arm\n      model\n      context\n      confidence\n      cached\n      attempts\n    }\n    ... on ChatChunk {\n      requestId\n      index\n      text\n      words\n    }\n    ... on ChatDone {\n      requestId\n      finishReason\n      attempts\n      chunks\n      metrics {\n        latencyMs\n        ttftMs\n        promptTokens\n        completionTokens\n        tokensEstimated\n        costUsd\n        reward\n      }\n    }\n    ... on ChatError {\n      requestId\n      code\n      message\n      partial\n      attempts\n    }\n  }\n}"): (typeof documents)["subscription Chat($input: ChatInput!) {\n  chat(input: $input) {\n    __typename\n    ... on ChatRoute {\n      requestId\n      arm\n      model\n      context\n      confidence\n      cached\n      attempts\n    }\n    ... on ChatChunk {\n      requestId\n      index\n      text\n      words\n    }\n    ... on ChatDone {\n      requestId\n      finishReason\n      attempts\n      chunks\n      metrics {\n        latencyMs\n        ttftMs\n        promptTokens\n        completionTokens\n        tokensEstimated\n        costUsd\n        reward\n      }\n    }\n    ... on ChatError {\n      requestId\n      code\n      message\n      partial\n      attempts\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SubmitFeedback($input: FeedbackInput!) {\n  submitFeedback(input: $input) {\n    requestId\n    score\n    learned\n    evicted\n    arm {\n      id\n      pulls\n      rewardMean\n      posterior {\n        alpha\n        beta\n        mean\n        lower95\n        upper95\n      }\n    }\n  }\n}"): (typeof documents)["mutation SubmitFeedback($input: FeedbackInput!) {\n  submitFeedback(input: $input) {\n    requestId\n    score\n    learned\n    evicted\n    arm {\n      id\n      pulls\n      rewardMean\n      posterior {\n        alpha\n        beta\n        mean\n        lower95\n        upper95\n      }\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Models {\n  models {\n    id\n    provider\n    status\n    requests\n    failures\n    consecutiveFailures\n    errorRate\n    latencyMs\n    ttftMs\n    retryAfter\n    inputPer1k\n    outputPer1k\n    quality\n  }\n}"): (typeof documents)["query Models {\n  models {\n    id\n    provider\n    status\n    requests\n    failures\n    consecutiveFailures\n    errorRate\n    latencyMs\n    ttftMs\n    retryAfter\n    inputPer1k\n    outputPer1k\n    quality\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Request($id: ID!) {\n  request(id: $id) {\n    id\n    status\n    arm\n    model\n    context\n    confidence\n    cached\n    attempts\n    finishReason\n    errorCode\n    metrics {\n      latencyMs\n      ttftMs\n      costUsd\n      reward\n    }\n    feedback {\n      score\n      comment\n    }\n  }\n}"): (typeof documents)["query Request($id: ID!) {\n  request(id: $id) {\n    id\n    status\n    arm\n    model\n    context\n    confidence\n    cached\n    attempts\n    finishReason\n    errorCode\n    metrics {\n      latencyMs\n      ttftMs\n      costUsd\n      reward\n    }\n    feedback {\n      score\n      comment\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;