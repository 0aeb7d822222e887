import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createPerformanceAnalyzer } from './analyzer/performance-analyzer.js';
import { createObjectiveTally } from './analyzer/objective-figures.js';
import { createMetricsRegistry } from './analyzer/prometheus.js';
import { createSharedFeed } from './analyzer/shared-feed.js';
import { createFeedbackDisagreement } from './analyzer/feedback-disagreement.js';
import { createIntervalView } from './analyzer/interval-view.js';
import { createProbabilityBestView } from './analyzer/probability-best-view.js';
import { banditViewOf } from './analyzer/router-bandit-view.js';
import { createCacheManager } from './cache/cache-manager.js';
import { createRedisClient } from './cache/redis-client.js';
import { createSingleFlight } from './cache/single-flight.js';
import type { AnswerEvent } from './chat/answer-producer.js';
import { createKeyRing } from './auth/client-keys.js';
import { createChatGate } from './chat/chat-gate.js';
import { createChatService } from './chat/chat-service.js';
import { createCapacity } from './limits/capacity.js';
import { createClientLimiter } from './limits/client-limiter.js';
import { createLimiterStore } from './limits/limiter-store.js';
import { createSpendEstimator } from './limits/spend-estimate.js';
import { createClientInfluence } from './learning/client-influence.js';
import { createOpenAIRoutes } from './openai/openai-routes.js';
import { requireSafeBinding } from './server/binding.js';
import { createJournalRestore, createRequestStore } from './chat/request-store.js';
import type { LearningEvent } from './learning/learning-events.js';
import type { SwitchyardConfig } from './config/schema.js';
import type { GraphQLServices } from './graphql/context.js';
import { schema } from './graphql/schema.js';
import type { Logger } from './logger.js';
import type { ModelBackend } from './models/backend.js';
import { createModelManager } from './models/model-manager.js';
import { createAdaptiveRouter } from './router/adaptive-router.js';
import { createContextClassifier } from './router/context-classifier.js';
import { createPolicy } from './router/create-policy.js';
import { createLocalEventLog, type LocalEventLog } from './learning/local-event-log.js';
import { createLearningStack } from './learning/learning-stack.js';
import { createRedisEventLog } from './learning/redis-event-log.js';
import { createSharedRequestStore, sharedRequestKey } from './chat/shared-request-store.js';
import { createWarmStarter } from './learning/warm-start.js';
import { createRng } from './router/random.js';
import { createRewardCalculator } from './router/reward-calculator.js';
import { createShadowRouter } from './router/shadow-router.js';
import { createShadowCallStore, createSharedShadowCallStore } from './router/shadow-call-store.js';
import { createGatewayServer, type GatewayServer } from './server/create-server.js';
import { loadTrustedDocuments } from './server/trusted-documents.js';
import { maxRequestBytes } from './server/request-size.js';

/**
 * Builds a whole Switchyard from a validated configuration: the one place where parts are wired
 * together. `main.ts` calls it for the real process; tests and benches call it to get the same
 * gateway on port 0.
 */

export interface AppDeps {
  readonly config: SwitchyardConfig;
  readonly logger: Logger;
  /** Where API keys are looked up by the names the config gives. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Backends to use instead of the configured ones, by model id (benches, tests). */
  readonly backends?: ReadonlyMap<string, ModelBackend>;
}

export interface App {
  readonly services: GraphQLServices;
  readonly server: GatewayServer;
  start(port?: number, host?: string): Promise<{ port: number; url: string; wsUrl: string }>;
  /** Shuts down in reverse order of start-up. */
  stop(): Promise<void>;
}

/** Whether `work` settled (either way) before `deadline` (a `performance.now()` time). */
async function withDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function buildApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const keys = createKeyRing(config, deps.env, logger);
  const trustedDocuments = config.server.trustedDocuments && {
    documents: loadTrustedDocuments(config.server.trustedDocuments.manifest),
    allowArbitraryOperations: config.server.trustedDocuments.allowArbitraryOperations,
  };
  const rng = createRng(config.bandit.seed);
  const reward = createRewardCalculator(config.reward);
  const redis: Redis | null = config.redis.url
    ? createRedisClient({ ...config.redis, url: config.redis.url }, logger.child({ component: 'redis' }))
    : null;
  const limiterStore = createLimiterStore({
    redis,
    keyPrefix: config.redis.keyPrefix,
    leaseMs: config.auth.streamLeaseMs,
    logger,
  });
  const capacity = createCapacity({ store: limiterStore, config: config.capacity, modelIds: [...new Set(config.arms.map((arm) => arm.model))] });
  const models = createModelManager({
    models: config.models,
    env: deps.env,
    logger: logger.child({ component: 'models' }),
    backends: deps.backends,
    capacity,
  });
  // With Redis, learning (and the request records feedback needs) is shared by every instance.
  const sharedLearning = redis !== null && config.learning.shared;
  let localLog: LocalEventLog | null = null;
  const localRequests = createRequestStore({
    ...config.feedback,
    // Embedded with a state file: finished requests are journaled, so feedback survives a restart.
    persist: (record) => localLog?.journalRecord({ ...record }) ?? Promise.resolve(),
  });
  const journalRestore = createJournalRestore({ store: localRequests, ttlMs: config.feedback.ttlMs, logger: logger.child({ component: 'requests' }) });
  const keepFeedback = (event: LearningEvent) => {
    if (event.type !== 'judgement' || event.kind !== 'feedback') return;
    const verdict = event.verdicts[0]!;
    localRequests.update(event.requestId, {
      feedback: { score: verdict.score, weight: verdict.weight ?? 1, comment: event.comment ?? null, receivedAt: event.at },
    });
  };
  const localShadowCalls = createShadowCallStore({
    maxCalls: config.shadow.maxStoredCalls,
    ttlMs: config.feedback.ttlMs,
    maxAnswerBytes: config.shadow.maxStoredAnswerBytes,
  });
  const instanceId = randomUUID();
  // The analyzer's Prometheus view reads the router and the log, built below: read lazily, at scrape time.
  const banditView = () => banditViewOf(router, config.analyzer.maxContexts);
  const metrics = createMetricsRegistry({
    bandit: banditView,
    learning: () => learningLog.status(),
    disagreeingClients: () => disagreement.get().flagged.length,
    // The store this instance keeps its records in: shared through Redis, or journaled beside the state file.
    unreadableRequestRecords: () => (sharedRequests ? { shared: sharedRequests.unreadable() } : { journal: journalRestore.unreadable() }),
    buckets: config.analyzer.prometheus });
  const analyzer = createPerformanceAnalyzer({ config: config.analyzer, metrics });
  const objectives = createObjectiveTally({ maxObjectives: config.analyzer.maxObjectives });
  const disagreementDetector = createFeedbackDisagreement(config.analyzer.disagreement);
  // Once per interval for every reader (GraphQL, /metrics), not per request.
  const disagreement = createIntervalView(() => disagreementDetector.evaluate(), config.analyzer.disagreement.intervalMs);
  const { stats, learning, log: learningLog } = createLearningStack({
    bandit: config.bandit,
    arms: config.arms,
    reward,
    analyzer,
    instanceId,
    log: (state) =>
      sharedLearning
        ? createRedisEventLog({
            redis: redis!,
            state,
            keyPrefix: config.redis.keyPrefix,
            requestKey: (id) => sharedRequestKey(config.redis.keyPrefix, id),
            instanceId,
            maxBuffered: config.learning.maxBuffered,
            snapshotIntervalMs: config.learning.snapshotIntervalMs,
            logger: logger.child({ component: 'learning' }),
            onReconnected: async () => {
              await sharedRequests?.reshare();
              await sharedShadowCalls?.reshare();
            },
            // Scores given on other instances: this instance's copy of its own requests (and
            // shadow calls) follows, so that it still replaces the right score if Redis goes away.
            onApplied: (event) => {
              keepFeedback(event);
              localShadowCalls.applied(event);
              shadow.applied(event);
            },
          })
        : (localLog = createLocalEventLog({
        state,
        stateFile: config.router.stateFile
          ? { path: config.router.stateFile, intervalMs: config.router.stateSaveIntervalMs, journalFsyncMs: config.learning.journalFsyncMs }
          : undefined,
        onRecord: journalRestore.restore,
        onReplayed: keepFeedback,
        liveRecords: () => [...localRequests.all()].filter((r) => r.status === 'completed' || r.status === 'failed').map((r) => ({ ...r })),
        logger: logger.child({ component: 'learned-state' }),
      })),
  });
  const policy = createPolicy(config.bandit, rng, stats);
  const classify = createContextClassifier(config.bandit.classifier);
  const router = createAdaptiveRouter({
    arms: config.arms,
    policy,
    stats,
    learning,
    rng,
    reward,
    classify,
    maxContexts: config.bandit.maxContexts,
    isModelAvailable: models.isAvailable,
  });

  const cache = createCacheManager({
    config: config.cache,
    redis,
    keyPrefix: config.redis.keyPrefix,
    logger,
  });
  // Records and shadow calls kept locally while Redis was away are shared once the log has caught up.
  const canReshare = () => {
    const status = learningLog.status();
    return status.state === 'ok' && status.buffered === 0;
  };
  const sharedRequests = sharedLearning
    ? createSharedRequestStore({
        local: localRequests,
        redis: redis!,
        keyPrefix: config.redis.keyPrefix,
        ttlMs: config.feedback.ttlMs,
        logger: logger.child({ component: 'requests' }),
        canReshare,
      })
    : null;
  const requests = sharedRequests ?? localRequests;
  const sharedShadowCalls = sharedLearning
    ? createSharedShadowCallStore({
        local: localShadowCalls,
        redis: redis!,
        keyPrefix: config.redis.keyPrefix,
        ttlMs: config.feedback.ttlMs,
        logger: logger.child({ component: 'shadow' }),
        canReshare,
        maxUnshared: config.shadow.maxStoredCalls,
      })
    : null;
  // One tally for feedback and comparisons: a client's share is of all its judgements.
  const influence = createClientInfluence({
    cap: config.feedback.clientShareCap,
    quorum: config.feedback.clientShareQuorum,
    halfLife: config.feedback.clientShareHalfLife,
    ignorePinned: config.feedback.ignorePinnedFeedback,
    // The flags as every reader sees them (at most analyzer.disagreement.intervalMs old).
    ...(config.feedback.ignoreFlaggedClients ? { flagged: (client: string) => disagreement.get().flagged.some((f) => f.client === client) } : {}),
  });
  const shadow = createShadowRouter({
    config: config.shadow,
    arms: config.arms,
    defaultMaxTokens: config.limits.defaultMaxTokens,
    retentionMs: config.feedback.ttlMs,
    router,
    models,
    learning,
    calls: sharedShadowCalls ?? localShadowCalls,
    spendFromLog: sharedLearning,
    influence,
    logger,
  });
  const chat = createChatService({
    config,
    router,
    models,
    requests,
    cache,
    singleFlight: createSingleFlight<AnswerEvent>(),
    learning,
    influence,
    disagreement: disagreementDetector,
    shadow,
    objectives,
    logger,
  });

  const pricing = (modelId: string) => models.view(modelId).pricing;
  const gate = createChatGate({
    chat,
    shadow,
    limiter: createClientLimiter({
      store: limiterStore,
      onChargeError: (error) => logger.warn({ err: error }, 'counting a chat against its limits failed'),
    }),
    capacity,
    pricing,
    spendEstimate: createSpendEstimator({
      config,
      pricing,
      // The operator's switches, not router.arms(): that summarises every posterior.
      enabledArmIds: () => config.arms.filter((arm) => learning.operator.isArmEnabled(arm.id)).map((arm) => arm.id),
    }),
  });

  const metricsFeed = createSharedFeed(() => analyzer.snapshot(banditView()));
  // The expensive views, computed once per analyzer.sharedViewMs for every query in between.
  const analyzerSnapshot = createIntervalView(() => analyzer.snapshot(banditView()), config.analyzer.sharedViewMs);
  const probabilityBest = createProbabilityBestView(
    (context) => new Map(router.arms(context).map((arm) => [arm.id, arm.probabilityBest])),
    { intervalMs: config.analyzer.sharedViewMs, maxContexts: config.bandit.maxContexts },
  );
  const warmStart = createWarmStarter({
    learning,
    arms: config.arms,
    models: config.models,
    warmStart: config.router.warmStart,
    classify,
  });
  const services: GraphQLServices = {
    chat,
    gate,
    router,
    models,
    cache,
    analyzer,
    objectives,
    banditView,
    metricsFeed,
    analyzerSnapshot: () => analyzerSnapshot.get(),
    probabilityBest: (context) => probabilityBest.of(context),
    disagreement: () => disagreement.get(),
    shadow,
    warmStart,
  };
  const server = createGatewayServer({
    schema,
    services,
    logger,
    options: config.server,
    keys,
    routes: [createOpenAIRoutes({ gate, router, config, logger })],
    trustedDocuments,
    drainChats: (cutAt, giveUpAt) => gate.stop(cutAt, giveUpAt),
    operationLimits: config.limits.operations,
    maxRequestBytes: maxRequestBytes(config),
    chatRefusal: () => capacity.chatRefusal(),
    connections: {
      maxSubscriptionsPerConnection: config.capacity.maxSubscriptionsPerConnection,
      maxConnectionsPerClient: config.capacity.maxConnectionsPerClient,
      maxWriteBufferBytes: config.capacity.maxWriteBufferBytes,
      slowReaderTimeoutMs: config.capacity.slowReaderTimeoutMs,
      // Per instance: a socket's lease in Redis outlives a Redis that hung while it was taken
      // (the acquire timed out, the command ran later), which refused a client's sockets for a lease's life.
      slots: (() => {
        const local = limiterStore.localSlots('connections');
        return { tryAcquire: async (key: string, limit: number) => local.tryAcquire(key, limit) };
      })(),
    },
    health: () => {
      const cacheStatus = cache.status();
      const learningStatus = learningLog.status();
      // Running without Redis is what a configuration without one asks for; only a configured
      // Redis that cannot be reached degrades the instance (the learning section says whether its
      // events are buffered meanwhile, and how many).
      return {
        status: redis !== null && cacheStatus === 'degraded' ? 'degraded' : 'ok',
        cache: cacheStatus,
        redis: redis === null ? 'not configured' : cacheStatus === 'degraded' ? 'unreachable' : 'ok',
        models: Object.fromEntries(models.list().map((m) => [m.id, m.health.status])),
        learning: learningStatus,
        capacity: capacity.saturation(),
      };
    },
    metrics: () => metrics.scrape(),
  });

  return {
    services,
    server,
    async start(port = config.server.port, host = config.server.host) {
      requireSafeBinding(host, { keysRequired: keys.required, allowUnauthenticated: config.auth.allowUnauthenticated });
      // Limits and the cache are shared through Redis: wait for its connection (at most its connect
      // timeout) so that the first requests are not counted per instance only because the process
      // listened before Redis answered. Redis down still lets the gateway start, degraded.
      if (redis && redis.status !== 'ready') {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.redis.connectTimeoutMs);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await learningLog.start();
      return server.start(port, host);
    },
    async stop() {
      const deadline = performance.now() + config.server.shutdownTimeoutMs;
      await server.stop();
      const release = async () => {
        await shadow.close();
        // After the last request has finished, so that nothing it taught is left out.
        await learningLog.stop();
        sharedRequests?.close();
        sharedShadowCalls?.close();
        await models.close();
        await limiterStore.close();
        await cache.close();
        if (redis?.status === 'ready') await redis.quit();
      };
      // Bounded whatever Redis or the upstreams do: a Redis that is down keeps ioredis reconnecting
      // and its commands pending, which must not keep the process past shutdownTimeoutMs.
      const released = await withDeadline(release(), deadline);
      if (!released) logger.warn({ shutdownTimeoutMs: config.server.shutdownTimeoutMs }, 'stop: releasing resources took the rest of the timeout; cut');
      redis?.disconnect();
    },
  };
}
