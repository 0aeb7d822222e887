import { z } from 'zod';

/**
 * The shape of a Switchyard configuration file. Every field is documented in README.md
 * ("Configuration"); keep the two in step.
 */

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
};

const openaiModelSchema = z.object({ ...httpModelFields, provider: z.literal('openai') }).strict();
const anthropicModelSchema = z
  .object({
    ...httpModelFields,
    provider: z.literal('anthropic'),
    anthropicVersion: z.string().default('2023-06-01'),
  })
  .strict();

export const modelSchema = z.discriminatedUnion('provider', [
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
  })
  .strict();

const rewardSchema = z
  .object({
    /** Weight of user feedback (the quality part), applied when feedback arrives. */
    quality: nonNegative.default(0.7),
    /** Weight of latency in the operational part, applied on completion. */
    latency: nonNegative.default(0.15),
    /** Weight of cost in the operational part. */
    cost: nonNegative.default(0.15),
    /** Latency (ms) that scores 0.5 on the latency part; the score is target / (target + latency). */
    latencyTargetMs: z.number().positive().default(2_000),
    /** Cost (USD) that scores 0.5 on the cost part; the score is target / (target + cost). */
    costTargetUsd: z.number().positive().default(0.002),
  })
  .strict()
  .refine((r) => r.quality + r.latency + r.cost > 0, 'reward weights must not all be 0');

const banditSchema = z
  .object({
    policy: z.enum(['thompson']).default('thompson'),
    prior: z
      .object({ alpha: z.number().positive().default(1), beta: z.number().positive().default(1) })
      .strict()
      .default({ alpha: 1, beta: 1 }),
    /** Monte Carlo draws used to estimate routing confidence (probability the chosen arm is best). */
    confidenceDraws: z.number().int().min(16).max(10_000).default(256),
    seed: z.number().int().optional(),
  })
  .strict();

const routerSchema = z
  .object({
    /** Arms tried per request when an arm fails before its first token. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
  })
  .strict();

const limitsSchema = z
  .object({
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
    ttl: z
      .object({
        minSeconds: z.number().positive().default(30),
        maxSeconds: z.number().positive().default(300),
      })
      .strict()
      .default({ minSeconds: 30, maxSeconds: 300 })
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
  })
  .strict();

const serverSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(4000),
    host: z.string().default('0.0.0.0'),
    graphqlPath: z.string().startsWith('/').default('/graphql'),
    graphiql: z.boolean().default(true),
    /** Seconds a graceful shutdown may take before connections are cut. */
    shutdownTimeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

export const configSchema = z
  .object({
    server: serverSchema.default(serverSchema.parse({})),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    models: z.array(modelSchema).min(1),
    arms: z.array(armSchema).min(1),
    reward: rewardSchema.default(rewardSchema.parse({})),
    bandit: banditSchema.default(banditSchema.parse({})),
    router: routerSchema.default(routerSchema.parse({})),
    limits: limitsSchema.default(limitsSchema.parse({})),
    feedback: feedbackSchema.default(feedbackSchema.parse({})),
    cache: cacheSchema.default(cacheSchema.parse({})),
    redis: redisSchema.default(redisSchema.parse({})),
  })
  .strict()
  .superRefine((config, ctx) => {
    const modelIds = new Set<string>();
    config.models.forEach((model, i) => {
      if (modelIds.has(model.id)) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate model id "${model.id}"` });
      }
      modelIds.add(model.id);
    });
    const armIds = new Set<string>();
    config.arms.forEach((arm, i) => {
      if (armIds.has(arm.id)) {
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'id'], message: `duplicate arm id "${arm.id}"` });
      }
      armIds.add(arm.id);
      if (!modelIds.has(arm.model)) {
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'model'], message: `unknown model "${arm.model}"` });
      }
    });
    if (!config.arms.some((arm) => arm.enabled)) {
      ctx.addIssue({ code: 'custom', path: ['arms'], message: 'at least one arm must be enabled' });
    }
    if (config.limits.defaultMaxTokens > config.limits.maxTokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'defaultMaxTokens'],
        message: 'must not exceed limits.maxTokens',
      });
    }
  });

export type SwitchyardConfig = z.infer<typeof configSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type SimulatedModelConfig = z.infer<typeof simulatedModelSchema>;
export type OpenAIModelConfig = z.infer<typeof openaiModelSchema>;
export type AnthropicModelConfig = z.infer<typeof anthropicModelSchema>;
export type ArmConfig = z.infer<typeof armSchema>;
export type RewardConfig = z.infer<typeof rewardSchema>;
export type CacheConfig = z.infer<typeof cacheSchema>;
export type RedisConfig = z.infer<typeof redisSchema>;
export type TimeoutsConfig = z.infer<typeof timeoutsSchema>;
