import { z } from 'zod';

/**
 * The shape of a Switchyard configuration file. Every field is documented in README.md
 * ("Configuration"); keep the two in step.
 */

/**
 * The configuration's schemas, built by a call that finds none alive (a WeakRef keeps them between
 * calls only until a GC collects them). The configuration is parsed at start; kept for the life of the
 * process, these zod schemas, ~17,000 objects and ~1.1 MB of heap with their closures, would be marked
 * by every mark-compact for nothing (docs/performance.md, "Tenth pass: start-up library heap").
 */
export function configSchemas(): ConfigSchemas {
  let schemas = built?.deref();
  if (schemas === undefined) built = new WeakRef((schemas = buildSchemas()));
  return schemas;
}

export type ConfigSchemas = ReturnType<typeof buildSchemas>;
let built: WeakRef<ConfigSchemas> | undefined;

/** `pin` lets a key pin chats to an arm (callers without a key may, within their pinned budget). */
export const clientScopes = ['chat', 'feedback', 'read', 'pin', 'admin'] as const;

function buildSchemas() {
  const id = z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "_", ":" or "-"');

  const nonNegative = z.number().finite().nonnegative();
  const probability = z.number().min(0).max(1);

  const timeoutsSchema = z
    .object({
      connectMs: z.number().int().positive().default(5_000),
      firstTokenMs: z.number().int().positive().default(30_000),
      idleMs: z.number().int().positive().default(30_000),
      totalMs: z.number().int().positive().default(300_000),
    })
    .strict();

  const pricingFields = {
    inputPer1k: nonNegative.default(0),
    outputPer1k: nonNegative.default(0),
  };

  const circuitSchema = z
    .object({
      /** Consecutive failures that open the model's circuit (the router then skips it). */
      failureThreshold: z.number().int().positive().default(5),
      /** How long an open circuit stays open before one half-open probe is let through. */
      openMs: z.number().int().positive().default(30_000),
    })
    .strict();

  const simulatedModelSchema = z
    .object({
      id,
      provider: z.literal('simulated'),
      /** Milliseconds before the first token. */
      ttftMs: nonNegative.default(100),
      /** Tokens per second after the first; 0 streams without any delay. */
      tokensPerSecond: nonNegative.default(50),
      errorRate: probability.default(0),
      /** Probability that a user likes an answer: drives simulated feedback in demos and benches. */
      quality: probability.default(0.5),
      ...pricingFields,
      /** Answer length in tokens (capped by the request's maxTokens). */
      answerTokens: z.number().int().positive().default(60),
      seed: z.number().int().optional(),
      timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
    })
    .strict();

  const httpModelFields = {
    id,
    baseUrl: z.url(),
    /** The model's name at the provider. */
    model: z.string().min(1),
    /** Name of the environment variable holding the API key; the key itself never sits in the file. */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    headers: z.record(z.string(), z.string()).default({}),
    ...pricingFields,
    timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
    circuit: circuitSchema.default(circuitSchema.parse({})),
  };

  const openaiModelSchema = z
    .object({
      ...httpModelFields,
      provider: z.literal('openai'),
      /**
       * Header that carries the API key as is (Azure OpenAI: "api-key"); unset sends
       * "Authorization: Bearer <key>".
       */
      apiKeyHeader: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name')
        .optional(),
      /** Query parameters added to the request URL (Azure OpenAI: {"api-version": "2024-10-21"}). */
      query: z.record(z.string(), z.string()).default({}),
      /**
       * Body field that carries the token limit: OpenAI's reasoning models (o-series, gpt-5) accept
       * only "max_completion_tokens"; many local servers know only "max_tokens".
       */
      maxTokensField: z.enum(['max_tokens', 'max_completion_tokens']).default('max_tokens'),
    })
    .strict();
  const anthropicModelSchema = z
    .object({
      ...httpModelFields,
      provider: z.literal('anthropic'),
      anthropicVersion: z.string().default('2023-06-01'),
    })
    .strict();

  const modelSchema = z.discriminatedUnion('provider', [
    simulatedModelSchema,
    openaiModelSchema,
    anthropicModelSchema,
  ]);

  const armSchema = z
    .object({
      id,
      model: id,
      enabled: z.boolean().default(true),
      /** Overrides applied to every request routed to this arm. */
      temperature: z.number().min(0).max(2).optional(),
      maxTokens: z.number().int().positive().optional(),
      systemPrompt: z.string().optional(),
      /**
       * What is known of the arm's quality before any feedback (a leaderboard, an eval): per context
       * path ("*" = everywhere), a prior mean and how many feedback scores it is worth.
       */
      priors: z
        .array(
          z
            .object({
              context: z.string().min(1).max(256).default('*'),
              /** Expected quality (share of good answers) in (0, 1). */
              mean: z.number().gt(0).lt(1),
              /** Pseudo-observations: how many feedback scores the prior is worth. */
              strength: z.number().positive().max(100_000),
            })
            .strict(),
        )
        .max(100)
        .optional(),
    })
    .strict();

  const rewardSchema = z
    .object({
      /**
       * Pseudo-observations one feedback score adds to the arm's quality posterior (1 = one Bernoulli
       * trial). An error counts as a quality-0 observation of the same weight.
       */
      quality: z.number().finite().positive().default(1),
      /**
       * Quality units the router gives up to avoid one reference cost per request: it maximises
       * quality - cost * (expected cost / reference cost) - latency * (expected latency / reference latency).
       */
      cost: nonNegative.default(0.1),
      /** Quality units worth one reference latency per request (see `cost`). */
      latency: nonNegative.default(0.02),
      /**
       * Cost (USD per request) that the cost weight is priced against. Unset: the highest mean cost
       * per request observed among the arms, so the weight does not depend on a price scale. Set:
       * one unit of quality is worth costReferenceUsd / cost dollars.
       */
      costReferenceUsd: z.number().positive().optional(),
      /**
       * Budget pacing: the share of the dearest arm's mean cost per call the router should spend. The cost
       * weight rises while it spends above, falls while below (reward-calculator.ts); unset = none.
       */
      budgetShare: z.number().positive().max(1).optional(),
      /** Latency (ms) that the latency weight is priced against; unset: the slowest arm's observed mean. */
      latencyReferenceMs: z.number().positive().optional(),
    })
    .strict();

  const banditSchema = z
    .object({
      policy: z.enum(['thompson', 'ucb1', 'egreedy']).default('thompson'),
      /** Beta prior of every arm in the global context (and in every context when hierarchyStrength is 0). */
      prior: z
        .object({ alpha: z.number().positive().default(1), beta: z.number().positive().default(1) })
        .strict()
        .default({ alpha: 1, beta: 1 }),
      /**
       * Pseudo-observations a context borrows from its parent (the global statistics, or the task for a
       * task/length context): its prior is Beta(s * parentMean, s * (1 - parentMean)). 0 = contexts learn alone.
       */
      hierarchyStrength: nonNegative.default(4),
      /**
       * Requests of a context after which its evidence counts half (evidence decays toward the prior, so
       * a degraded arm loses its traffic and a recovered one wins it back). 0 = never forget.
       */
      halfLife: nonNegative.default(5_000),
      /**
       * Thompson sampling counts each observation k times when it draws (the prior is not sharpened):
       * about 1/k of the posterior variance. k > 1 explores less than the exact posterior, which pays on
       * short horizons with many arms (see docs/learning.md); 1 = textbook Thompson sampling.
       */
      sampleConcentration: z.number().min(1).max(16).default(2),
      /**
       * Requests of a context after which evidence stops being sharpened (counts once instead of k
       * times); unset = halfLife / 8. Keeps a long-unpulled arm's stale record from blocking re-exploration.
       */
      sharpenHalfLife: nonNegative.optional(),
      /**
       * Thompson: quality observations (decayed) an arm must have in a context before the policy may
       * pass it over there; a candidate below it is tried before any other. 0 = none.
       */
      explorationFloor: nonNegative.default(0),
      /**
       * Thompson: > 0 ranks candidates by a knowledge-gradient index (posterior-mean utility plus the
       * value of information priced in the same utility units) instead of a draw, with the requests
       * still to come in a context guessed as this many times those seen. 0 = Thompson draws. Opt-in:
       * see docs/learning.md ("Exploring by value of information") for where it helps and where it hurts.
       */
      knowledgeGradient: z.number().min(0).max(100).default(0),
      /**
       * Thompson: true ranks by information-directed sampling (expected regret in utility units, cost
       * included, squared over the information gained about the best arm; at most two arms mixed) instead
       * of a draw per candidate. Opt-in: see docs/learning.md ("Information-directed sampling").
       */
      informationDirected: z.boolean().default(false),
      /**
       * The forgetting mixture (src/router/forgetting-mixture.ts): short memories beside halfLife,
       * weighted per context by predictive likelihood relative to the context's difficulty. Thompson only.
       */
      mixture: z
        .object({
          halfLives: z.array(z.number().positive()).max(4).default([100, 400]),
          scoreHalfLife: z.number().positive().default(8_000),
          logPriorOdds: nonNegative.default(5),
          priorStrength: z.number().positive().default(4),
          relative: z.boolean().default(true),
          recentHalfLife: z.number().positive().default(50),
          concentration: z.number().min(1).max(16).default(2),
        })
        .strict()
        .default({
          halfLives: [100, 400],
          scoreHalfLife: 8_000,
          logPriorOdds: 5,
          priorStrength: 4,
          relative: true,
          recentHalfLife: 50,
          concentration: 2,
        }),
      /** Contexts with statistics of their own; past it, new contexts share their nearest known ancestor's. */
      maxContexts: z.number().int().positive().default(1_000),
      /** Probability that epsilon-greedy explores uniformly at random. */
      epsilon: probability.default(0.1),
      /** Exploration multiplier of UCB1's bonus sqrt(2 ln n / n_arm); 1 is the textbook bound. */
      ucbExploration: nonNegative.default(1),
      seed: z.number().int().optional(),
      classifier: z
        .object({
          /** Append a prompt length band (short/medium/long) to the task type: 'code/short'. */
          lengthBands: z.boolean().default(true),
          /** Approximate tokens (characters / 4) up to which a prompt is short, and medium. */
          shortTokens: z.number().int().positive().default(128),
          mediumTokens: z.number().int().positive().default(1_024),
        })
        .strict()
        .default({ lengthBands: true, shortTokens: 128, mediumTokens: 1_024 })
        .refine((c) => c.shortTokens < c.mediumTokens, 'shortTokens must be below mediumTokens'),
    })
    .strict();

  const routerSchema = z
    .object({
      /** Arms tried per request when an arm fails before its first token. */
      maxAttempts: z.number().int().min(1).max(10).default(3),
      /** File the learned statistics are kept in across restarts; unset keeps them in memory only. */
      stateFile: z.string().min(1).optional(),
      /** How often the learned statistics are saved to stateFile (they are saved on shutdown too). */
      stateSaveIntervalMs: z.number().int().min(1_000).default(30_000),
      /** Teaching the router from logged outcomes (`npm run warm-start`, the `warmStart` mutation). */
      warmStart: z
        .object({
          /** Live feedback scores one logged outcome is worth: below 1, live evidence takes over sooner. */
          weight: z.number().finite().positive().default(1),
          /** Logged model name -> arm id, for names that are neither an arm id, a model id nor a provider's model name. */
          models: z.record(z.string().min(1), id).default({}),
          /** Rows one warmStart mutation may carry (bounds the work of one request). */
          maxRowsPerCall: z.number().int().positive().max(100_000).default(1_000),
        })
        .strict()
        .default({ weight: 1, models: {}, maxRowsPerCall: 1_000 }),
    })
    .strict();

  /**
   * Work one GraphQL operation may ask for (GraphQL Armor's rules, see src/server/operation-limits.ts).
   * The defaults leave 4x headroom over the largest operation the console and the client send
   * (the analyzer snapshot: depth 7, cost ~5,000; the console's document: 456 tokens).
   */
  const operationLimitsSchema = z
    .object({
      /** Tokens of the document, counted while parsing (a string literal is one token). */
      maxTokens: z.number().int().positive().default(2_000),
      /** Directives in the operation. */
      maxDirectives: z.number().int().positive().default(50),
      /** Aliases in the operation (`__typename` aliases are free). */
      maxAliases: z.number().int().positive().default(15),
      /** Nesting of selections, fragments counted as their fields. */
      maxDepth: z.number().int().positive().default(12),
      /** GraphQL Armor's cost: 1 per scalar, 2 per object, each level x1.5. */
      maxCost: z.number().int().positive().default(20_000),
    })
    .strict();

  const learningSchema = z
    .object({
      /**
       * With redis.url set: learn from every instance's traffic through one event log in Redis (a
       * stream), so all replicas hold the same statistics and operator changes. False: each instance
       * learns alone (router.stateFile per instance).
       */
      shared: z.boolean().default(true),
      /** Events kept while Redis cannot be reached, appended when it returns; past it the oldest are dropped (counted). */
      maxBuffered: z.number().int().positive().default(100_000),
      /** How often one instance writes a snapshot of the shared state to Redis (the stream is trimmed behind it). */
      snapshotIntervalMs: z.number().int().min(100).default(10_000),
      /**
       * Embedded (no shared log) with router.stateFile: learning events are appended to a journal
       * next to it (<stateFile>.journal) and fsynced at most this long after they happen; what kill -9
       * can lose is bounded by it. 0 fsyncs every event before its effect is reported.
       */
      journalFsyncMs: nonNegative.default(50),
    })
    .strict();

  const limitsSchema = z
    .object({
      operations: operationLimitsSchema.default(operationLimitsSchema.parse({})),
      maxMessages: z.number().int().positive().default(200),
      /** Characters across all messages of one request. */
      maxPromptChars: z.number().int().positive().default(100_000),
      maxTokens: z.number().int().positive().default(4_096),
      defaultMaxTokens: z.number().int().positive().default(512),
    })
    .strict();

  const feedbackSchema = z
    .object({
      /** How long after a request its id accepts feedback. */
      ttlMs: z.number().int().positive().default(24 * 3_600_000),
      /** Completed requests remembered for feedback and `request(id)`; the oldest are forgotten first. */
      maxRequests: z.number().int().positive().default(100_000),
      /**
       * Largest share of a context's recent judgements one client may hold (1 = no cap), binding only
       * once the other clients judged there (clientShareQuorum): a client alone is never capped. See
       * src/learning/client-influence.ts, the one place that decides a judgement's weight.
       */
      clientShareCap: z.number().gt(0).max(1).default(0.2),
      /** Other clients' judgements' worth in a context below which a client is alone there: not capped, and its pinned feedback teaches. */
      clientShareQuorum: z.number().nonnegative().default(20),
      /** Feedbacks in a context after which a client's earlier share counts half (0 = never forget). */
      clientShareHalfLife: z.number().nonnegative().default(500),
      /** True: feedback on pinned requests teaches the bandit nothing unless its client is alone (the client chose the arm it judges). */
      ignorePinnedFeedback: z.boolean().default(true),
      /** True: a client the analyzer flags (analyzer.disagreement) teaches nothing while it is flagged. */
      ignoreFlaggedClients: z.boolean().default(true),
    })
    .strict();

  const cacheSchema = z
    .object({
      enabled: z.boolean().default(true),
      l1: z
        .object({
          maxEntries: z.number().int().positive().default(10_000),
          maxBytes: z.number().int().positive().default(64 * 1024 * 1024),
        })
        .strict()
        .default({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 }),
      l2: z
        .object({
          /** After an L2 command fails on a live connection (e.g. a timeout), L2 is skipped this long before a retry. */
          cooldownMs: z.number().int().positive().default(1_000),
          /** How stale the L2 entry/byte counts shown by stats may get before a background SCAN refreshes them. */
          statsRefreshMs: z.number().int().positive().default(5_000),
        })
        .strict()
        .default({ cooldownMs: 1_000, statsRefreshMs: 5_000 }),
      ttl: z
        .object({
          minSeconds: z.number().positive().default(30),
          maxSeconds: z.number().positive().default(300),
          /** Length of the sliding window over which the hit rate that steers the base TTL is measured. */
          windowSeconds: z.number().positive().default(300),
          /** Lookups the window must hold before the hit rate moves the base TTL off minSeconds. */
          minSamples: z.number().int().nonnegative().default(20),
          /** Each hit on an entry extends its TTL by this multiple of the base TTL (capped at maxSeconds). */
          hitGrowth: nonNegative.default(1),
        })
        .strict()
        .default({ minSeconds: 30, maxSeconds: 300, windowSeconds: 300, minSamples: 20, hitGrowth: 1 })
        .refine((t) => t.minSeconds <= t.maxSeconds, 'minSeconds must not exceed maxSeconds'),
      /** Requests with a temperature above this are not cached (unless cacheHighTemperature). */
      maxTemperature: z.number().min(0).max(2).default(0.5),
      cacheHighTemperature: z.boolean().default(false),
      /** Whether tags are part of the cache key. */
      keyIncludesTags: z.boolean().default(false),
    })
    .strict();

  const redisSchema = z
    .object({
      /** redis:// URL; unset runs without L2 (L1 only). REDIS_URL overrides it. */
      url: z.string().optional(),
      keyPrefix: z.string().default('switchyard:'),
      commandTimeoutMs: z.number().int().positive().default(250),
      connectTimeoutMs: z.number().int().positive().default(1_000),
      /** Reconnect backoff: first delay, doubled per failed attempt up to retryMaxMs; retries never stop. */
      retryBaseMs: z.number().int().positive().default(100),
      retryMaxMs: z.number().int().positive().default(2_000),
    })
    .strict();

  const serverSchema = z
    .object({
      port: z.number().int().min(0).max(65_535).default(4000),
      /** Loopback by default: another interface needs client keys or auth.allowUnauthenticated. */
      host: z.string().default('127.0.0.1'),
      graphqlPath: z.string().startsWith('/').default('/graphql'),
      graphiql: z.boolean().default(true),
      /** Serve the web console at `/`. */
      console: z.boolean().default(true),
      /** Environment variable holding an admin-scoped key (id "admin"); see auth. */
      adminTokenEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
        .optional(),
      /**
       * Web origins (scheme://host[:port]) whose pages may call the gateway: they get CORS headers and
       * may open WebSockets. Any other origin is refused (403); requests without an Origin header and
       * the gateway's own pages are always served.
       */
      corsOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin: scheme://host[:port], no path')).default([]),
      /**
       * Largest HTTP request body and WebSocket message, in bytes; unset: 6 bytes per character of
       * limits.maxPromptChars plus 1 MiB (see src/server/request-size.ts).
       */
      maxRequestBytes: z.number().int().min(1_024).optional(),
      /** Seconds a graceful shutdown may take before connections are cut. */
      shutdownTimeoutMs: z.number().int().positive().default(10_000),
      /** Run only the operations of a persisted-documents manifest (codegen's client preset writes one). */
      trustedDocuments: z
        .object({
          /** Path of the manifest: a JSON object mapping document ids ("sha256:<hex>") to document text. */
          manifest: z.string().min(1),
          /** Also run operations sent as text; false (the point of the option) runs manifest ids only. */
          allowArbitraryOperations: z.boolean().default(false),
        })
        .strict()
        .optional(),
    })
    .strict();

  const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

  /** Per client limits; an unset field is unlimited. */
  const clientLimitsSchema = z
    .object({
      requestsPerMinute: z.number().int().positive().optional(),
      /** Prompt plus completion tokens that reached a model in the current minute. */
      tokensPerMinute: z.number().int().positive().optional(),
      /** Chats streaming at once (every transport and instance together). */
      concurrentStreams: z.number().int().positive().optional(),
      /** Spend on the routed arms' prices per UTC day. */
      budgetUsdPerDay: z.number().positive().optional(),
      /** Spend per hour (a window from the first chat); each chat reserves its worst-case cost at admission. */
      budgetUsdPerHour: z.number().positive().optional(),
      /** Of that, what chats pinned to an arm may spend per hour (pinning bypasses the router's cost penalty). */
      pinnedBudgetUsdPerHour: z.number().positive().optional(),
    })
    .strict();

  /** Every caller without a key is limited per remote address; spend is capped unless configured otherwise. */
  const anonymousLimitsSchema = clientLimitsSchema
    .extend({
      budgetUsdPerHour: z.number().positive().default(2),
      pinnedBudgetUsdPerHour: z.number().positive().default(0.5),
    })
    .strict();

  const clientKeySchema = z
    .object({
      /** Names the key in logs, metrics and request ownership; the key itself never appears anywhere. */
      id: id.refine((value) => value !== 'anonymous', '"anonymous" names callers without a key'),
      /** Environment variable holding the key. */
      env: envName.optional(),
      /** Hex SHA-256 of the key, for deployments that keep keys out of the process environment. */
      sha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
        .optional(),
      scopes: z.array(z.enum(clientScopes)).min(1).default(['chat', 'feedback', 'read']),
      limits: clientLimitsSchema.default({}),
    })
    .strict()
    .refine((key) => (key.env === undefined) !== (key.sha256 === undefined), 'give exactly one of env or sha256');

  const authSchema = z
    .object({
      /** Client keys; when any is configured, every transport requires one. */
      keys: z.array(clientKeySchema).default([]),
      /** Serve callers without a key on a non-loopback interface (refused at start-up otherwise). */
      allowUnauthenticated: z.boolean().default(false),
      /** Limits of each caller without a key, by remote address (when no keys are configured). */
      anonymousLimits: anonymousLimitsSchema.default({ budgetUsdPerHour: 2, pinnedBudgetUsdPerHour: 0.5 }),
      /** How long a concurrent-stream slot outlives an instance that died holding it (Redis only). */
      streamLeaseMs: z.number().int().min(1_000).default(30_000),
    })
    .strict();

  const openaiEndpointSchema = z
    .object({
      /** Serve the OpenAI-compatible API under /v1 on the server's port. */
      enabled: z.boolean().default(true),
      /** Model names that let the bandit choose, besides "switchyard/auto" (e.g. a name an app hard-codes). */
      autoModelAliases: z.array(z.string().min(1).max(128)).default([]),
    })
    .strict();

  const streamingSchema = z
    .object({
      /** Words per chunk when routing confidence is 0; chunk size grows linearly with confidence up to maxWords. */
      minWords: z.number().int().min(1).default(4),
      /** Words per chunk when routing confidence is 1; also the most words a live chunk may hold. */
      maxWords: z.number().int().min(1).default(20),
      /** Live tokens are coalesced into one chunk only while no more than this has passed since the chunk began. */
      flushIntervalMs: z.number().int().positive().default(50),
      /** Delay between chunks of an already complete answer, derived from the arm's speed; maxMs 0 disables. */
      pacing: z
        .object({
          minMs: nonNegative.default(30),
          maxMs: nonNegative.default(150),
        })
        .strict()
        .default({ minMs: 30, maxMs: 150 })
        .refine((p) => p.maxMs === 0 || p.minMs <= p.maxMs, 'pacing.minMs must not exceed pacing.maxMs'),
    })
    .strict()
    .refine((s) => s.minWords <= s.maxWords, 'minWords must not exceed maxWords');

  const analyzerSchema = z
    .object({
      /** Bucket width of the last-minute window (the window spans 60 s, so 60_000 must be a multiple). */
      minuteBucketMs: z.number().int().positive().default(1_000),
      /** Bucket width of the last-hour window (the window spans 3_600_000 ms, so that must be a multiple). */
      hourBucketMs: z.number().int().positive().default(60_000),
      /** Distinct contexts tracked; samples of further contexts are folded into the context "(other)". */
      maxContexts: z.number().int().positive().default(50),
      /** Distinct request objectives reported apart (ChatInput.objective); further ones are counted as "(other)". */
      maxObjectives: z.number().int().positive().default(20),
      histogram: z
        .object({
          /** Smallest latency step the HDR histograms distinguish. */
          resolutionMs: z.number().positive().default(0.1),
          /** Latencies above this are recorded as this value. */
          maxMs: z.number().positive().default(600_000),
          /** Relative precision of recorded values: 10^-significantDigits. */
          significantDigits: z.number().int().min(1).max(5).default(2),
        })
        .strict()
        .default({ resolutionMs: 0.1, maxMs: 600_000, significantDigits: 2 })
        .refine((h) => h.maxMs / h.resolutionMs >= 2, 'maxMs must be at least twice resolutionMs'),
      recommendations: z
        .object({
          /** Pulls an arm needs before any recommendation judges it. */
          minPulls: z.number().int().positive().default(200),
          /** DISABLE_ARM fires when an arm's probability of being best is below this after minPulls. */
          disableBelowProbabilityBest: probability.default(0.01),
          /** Requests each window needs before MODEL_DEGRADED compares the last minute with its baseline. */
          minRequests: z.number().int().positive().default(20),
          /** MODEL_DEGRADED: the last minute's error rate exceeds the baseline's by at least this much (absolute). */
          errorRateIncrease: probability.default(0.1),
          /** MODEL_DEGRADED: the last minute's p95 latency is at least this multiple of the baseline's. */
          latencyFactor: z.number().min(1).default(1.5),
          /** CHEAPER_ARM_AS_GOOD: a cheaper arm's posterior mean reward lies within this of the best's. */
          rewardMargin: probability.default(0.02),
          /** CHEAPER_ARM_AS_GOOD: the cheaper arm costs at most this fraction of the best's per request. */
          maxCostRatio: probability.default(0.8),
        })
        .strict()
        .default({
          minPulls: 200,
          disableBelowProbabilityBest: 0.01,
          minRequests: 20,
          errorRateIncrease: 0.1,
          latencyFactor: 1.5,
          rewardMargin: 0.02,
          maxCostRatio: 0.8,
        }),
      /**
       * The `analyzer` query and every arm's probabilityBest (Monte Carlo) are computed at most this
       * often and shared by every caller in between (0: per request).
       */
      sharedViewMs: z.number().int().nonnegative().default(1_000),
      /** Flags clients whose feedback disagrees with everyone else's (src/analyzer/feedback-disagreement.ts). */
      disagreement: z
        .object({
          /** Chance, at most, that an honest client is flagged in one evaluation. */
          falsePositiveRate: z.number().gt(0).lt(1).default(0.001),
          /** A client's feedbacks on an arm in a context before that pair is tested. */
          minFeedback: z.number().int().positive().default(10),
          /** Other clients' feedbacks on the pair before it is tested. */
          minOthers: z.number().int().positive().default(20),
          /** Distinct other clients on the pair before it is tested. */
          minOtherClients: z.number().int().positive().default(3),
          /** Feedback is remembered between one and two of these. */
          windowMs: z.number().int().positive().default(3_600_000),
          /** The flags are computed at most this often, shared by every reader (GraphQL, /metrics, the feedback weight); 0: on every read. */
          intervalMs: z.number().int().nonnegative().default(10_000),
          /** Most (arm and context, client) tallies held. */
          maxEntries: z.number().int().positive().default(100_000),
        })
        .strict()
        .default({ falsePositiveRate: 0.001, minFeedback: 10, minOthers: 20, minOtherClients: 3, windowMs: 3_600_000, intervalMs: 10_000, maxEntries: 100_000 }),
      prometheus: z
        .object({
          latencyBucketsSeconds: z
            .array(z.number().positive())
            .min(1)
            .default([0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120]),
          ttftBucketsSeconds: z
            .array(z.number().positive())
            .min(1)
            .default([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]),
        })
        .strict()
        .default({
          latencyBucketsSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
          ttftBucketsSeconds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        }),
    })
    .strict()
    .refine((a) => 60_000 % a.minuteBucketMs === 0, 'minuteBucketMs must divide 60000')
    .refine((a) => 3_600_000 % a.hourBucketMs === 0, 'hourBucketMs must divide 3600000');

  const shadowSchema = z
    .object({
      /** Share of eligible requests (routed, not pinned, not served from the cache) also sent to a second arm in the background. */
      rate: probability.default(0.3),
      /**
       * Which arm shadows: "uncertain" picks, per request, the enabled and available arm other than
       * the primary whose posterior in the request's context has the highest variance; an arm id
       * always shadows with that arm (even while it is disabled for routing).
       */
      arm: z.union([z.literal('uncertain'), id]).default('uncertain'),
      /** Shadow calls in flight at most; a request selected while this many run is skipped. */
      maxConcurrent: z.number().int().positive().default(4),
      /** Shadow spend allowed over the last 60 s; a request selected while it is reached is skipped. */
      budgetUsdPerMinute: nonNegative.default(1),
      /** Shadow answers kept for comparisons (the oldest are forgotten first; they also expire with feedback.ttlMs). */
      maxStoredCalls: z.number().int().positive().default(10_000),
      /**
       * What one stored shadow answer may hold, in UTF-8 bytes; a longer one is kept cut there (never
       * inside a character). The default keeps an answer of limits.maxTokens' default (4,096 tokens) whole in
       * practice; the bounds keep it a useful prefix and within what one Redis value should hold.
       */
      maxStoredAnswerBytes: z.number().int().min(1_024).max(64 * 1024 * 1024).default(32_768),
      /** Seed of the draw that selects requests; unset draws a fresh seed. */
      seed: z.number().int().optional(),
    })
    .strict();

  /** What one instance takes on at once; past it, work is refused at once rather than queued. */
  const capacitySchema = z
    .object({
      /** Chats in flight on this instance, every transport together; more are refused with OVERLOADED. */
      maxChats: z.number().int().positive().default(1_000),
      /** Model calls in flight on this instance (chats, failovers and shadow calls together). */
      maxUpstreamCalls: z.number().int().positive().default(1_000),
      /** Model calls in flight to one model; a full model is skipped by routing like an unavailable one. */
      maxUpstreamCallsPerModel: z.number().int().positive().default(500),
      /** The retry-after given with OVERLOADED. */
      retryAfterMs: z.number().int().positive().default(1_000),
      /** Operations in flight on one graphql-ws connection; more are refused with TOO_MANY_SUBSCRIPTIONS. */
      maxSubscriptionsPerConnection: z.number().int().positive().default(100),
      /** Connections in use per client (per key; per address without one) on this instance: WebSockets open plus HTTP requests in flight. */
      maxConnectionsPerClient: z.number().int().positive().default(50),
      /** Bytes waiting to be written to one connection; past it, a connection that does not drain is cut at once. */
      maxWriteBufferBytes: z.number().int().positive().default(1_048_576),
      /** A connection with bytes waiting that drains none for this long is cut (its streams end, its model calls are aborted). */
      slowReaderTimeoutMs: z.number().int().positive().default(10_000),
    })
    .strict();

  const configSchema = z
    .object({
      server: serverSchema.default(serverSchema.parse({})),
      auth: authSchema.default(authSchema.parse({})),
      openai: openaiEndpointSchema.default(openaiEndpointSchema.parse({})),
      logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      models: z.array(modelSchema).min(1),
      arms: z.array(armSchema).min(1),
      reward: rewardSchema.default(rewardSchema.parse({})),
      bandit: banditSchema.default(banditSchema.parse({})),
      router: routerSchema.default(routerSchema.parse({})),
      learning: learningSchema.default(learningSchema.parse({})),
      limits: limitsSchema.default(limitsSchema.parse({})),
      feedback: feedbackSchema.default(feedbackSchema.parse({})),
      cache: cacheSchema.default(cacheSchema.parse({})),
      redis: redisSchema.default(redisSchema.parse({})),
      streaming: streamingSchema.default(streamingSchema.parse({})),
      analyzer: analyzerSchema.default(analyzerSchema.parse({})),
      shadow: shadowSchema.default(shadowSchema.parse({})),
      capacity: capacitySchema.default(capacitySchema.parse({})),
    })
    .strict()
    // Cross-field rules run even when a field elsewhere is malformed, so that one pass lists every
    // problem; they therefore read the partly parsed value defensively.
    .superRefine((config, ctx) => crossFieldIssues(config as unknown as PartialConfig, ctx), { when: () => true });

  return {
    configSchema,
    modelSchema,
    simulatedModelSchema,
    openaiModelSchema,
    anthropicModelSchema,
    armSchema,
    rewardSchema,
    banditSchema,
    cacheSchema,
    redisSchema,
    learningSchema,
    timeoutsSchema,
    circuitSchema,
    streamingSchema,
    analyzerSchema,
    shadowSchema,
    operationLimitsSchema,
    authSchema,
    clientKeySchema,
    clientLimitsSchema,
    openaiEndpointSchema,
    capacitySchema,
  };
}

/** The parsed configuration as a cross-field rule may see it: any field may be missing or malformed. */
interface PartialConfig {
  readonly models?: unknown;
  readonly arms?: unknown;
  readonly shadow?: { readonly arm?: unknown };
  readonly limits?: { readonly defaultMaxTokens?: unknown; readonly maxTokens?: unknown };
  readonly server?: { readonly adminTokenEnv?: unknown };
  readonly auth?: { readonly keys?: unknown };
  readonly openai?: { readonly autoModelAliases?: unknown };
  readonly router?: { readonly warmStart?: { readonly models?: unknown } };
}

function crossFieldIssues(config: PartialConfig, ctx: z.RefinementCtx): void {
  const records = (list: unknown): Array<Record<string, unknown>> =>
    Array.isArray(list) ? list.map((item) => (item !== null && typeof item === 'object' ? item : {})) : [];
  const models = records(config.models);
  const arms = records(config.arms);
  const modelIds = new Set<string>();
  models.forEach((model, i) => {
    if (typeof model.id !== 'string') return;
    if (modelIds.has(model.id)) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate model id "${model.id}"` });
    }
    modelIds.add(model.id);
  });
  const armIds = new Set<string>();
  arms.forEach((arm, i) => {
    if (typeof arm.id === 'string') {
      if (armIds.has(arm.id)) {
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'id'], message: `duplicate arm id "${arm.id}"` });
      }
      armIds.add(arm.id);
    }
    // Only a list of models that parsed as a list can tell an arm its model is unknown.
    if (typeof arm.model === 'string' && Array.isArray(config.models) && !modelIds.has(arm.model)) {
      ctx.addIssue({ code: 'custom', path: ['arms', i, 'model'], message: `unknown model "${arm.model}"` });
    }
  });
  const shadowArm = config.shadow?.arm;
  if (typeof shadowArm === 'string' && shadowArm !== 'uncertain' && Array.isArray(config.arms) && !armIds.has(shadowArm)) {
    ctx.addIssue({ code: 'custom', path: ['shadow', 'arm'], message: `unknown arm "${shadowArm}"` });
  }
  if (arms.length > 0 && !arms.some((arm) => arm.enabled !== false)) {
    ctx.addIssue({ code: 'custom', path: ['arms'], message: 'at least one arm must be enabled' });
  }
  const { defaultMaxTokens, maxTokens } = config.limits ?? {};
  if (typeof defaultMaxTokens === 'number' && typeof maxTokens === 'number' && defaultMaxTokens > maxTokens) {
    ctx.addIssue({
      code: 'custom',
      path: ['limits', 'defaultMaxTokens'],
      message: 'must not exceed limits.maxTokens',
    });
  }
  const keyIds = new Set<string>(config.server?.adminTokenEnv === undefined ? [] : ['admin']);
  records(config.auth?.keys).forEach((key, i) => {
    if (typeof key.id !== 'string') return;
    if (keyIds.has(key.id)) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'id'], message: `duplicate key id "${key.id}"` });
    }
    keyIds.add(key.id);
  });
  const logged = config.router?.warmStart?.models;
  if (logged !== null && typeof logged === 'object' && Array.isArray(config.arms)) {
    for (const [name, armId] of Object.entries(logged)) {
      if (typeof armId === 'string' && !armIds.has(armId)) {
        ctx.addIssue({ code: 'custom', path: ['router', 'warmStart', 'models', name], message: `unknown arm "${armId}"` });
      }
    }
  }
  const aliases = config.openai?.autoModelAliases;
  (Array.isArray(aliases) ? aliases : []).forEach((alias: unknown, i) => {
    if (typeof alias === 'string' && armIds.has(alias)) {
      ctx.addIssue({ code: 'custom', path: ['openai', 'autoModelAliases', i], message: `"${alias}" is an arm id` });
    }
  });
}

export type SwitchyardConfig = z.infer<ConfigSchemas['configSchema']>;
export type ModelConfig = z.infer<ConfigSchemas['modelSchema']>;
export type SimulatedModelConfig = z.infer<ConfigSchemas['simulatedModelSchema']>;
export type OpenAIModelConfig = z.infer<ConfigSchemas['openaiModelSchema']>;
export type AnthropicModelConfig = z.infer<ConfigSchemas['anthropicModelSchema']>;
export type ArmConfig = z.infer<ConfigSchemas['armSchema']>;
export type RewardConfig = z.infer<ConfigSchemas['rewardSchema']>;
export type BanditConfig = z.infer<ConfigSchemas['banditSchema']>;
export type ClassifierConfig = BanditConfig['classifier'];
export type CacheConfig = z.infer<ConfigSchemas['cacheSchema']>;
export type RedisConfig = z.infer<ConfigSchemas['redisSchema']>;
export type LearningConfig = z.infer<ConfigSchemas['learningSchema']>;
export type TimeoutsConfig = z.infer<ConfigSchemas['timeoutsSchema']>;
export type CircuitConfig = z.infer<ConfigSchemas['circuitSchema']>;
export type StreamingConfig = z.infer<ConfigSchemas['streamingSchema']>;
export type AnalyzerConfig = z.infer<ConfigSchemas['analyzerSchema']>;
export type ShadowConfig = z.infer<ConfigSchemas['shadowSchema']>;
export type OperationLimitsConfig = z.infer<ConfigSchemas['operationLimitsSchema']>;
export type AuthConfig = z.infer<ConfigSchemas['authSchema']>;
export type ClientKeyConfig = z.infer<ConfigSchemas['clientKeySchema']>;
export type ClientLimits = z.infer<ConfigSchemas['clientLimitsSchema']>;
export type ClientScope = (typeof clientScopes)[number];
export type OpenAIEndpointConfig = z.infer<ConfigSchemas['openaiEndpointSchema']>;
export type CapacityConfig = z.infer<ConfigSchemas['capacitySchema']>;
