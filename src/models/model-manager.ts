import type { ModelConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { createAnthropicBackend } from './anthropic-backend.js';
import {
  batchedEvents,
  batchesOf,
  refusedAsInvalid,
  UpstreamError,
  type ChatMessage,
  type CompletionEvent,
  type CompletionRequest,
  type BatchedEvents,
  type ModelCallRequest,
  type ModelBackend,
  type ModelPricing,
} from './backend.js';
import type { HttpModelBackend } from './http-client.js';
import { createModelHealth, type ModelHealth, type ModelHealthSnapshot } from './model-health.js';
import { createOpenAIBackend } from './openai-backend.js';
import { createSimulatedBackend } from './simulated-backend.js';
import {
  withStreamTimeouts,
  type StreamObserver,
  type StreamOutcome,
  type StreamStarter,
  type UpstreamCompletion,
} from './stream-timeouts.js';
import { createDeadlineQueue } from '../streaming/deadline-queue.js';
import type { Capacity } from '../limits/capacity.js';
import type { Lease } from '../limits/limiter-store.js';
import type { LazyAbortSignal } from '../stop-signal.js';

/**
 * Holds every configured backend with its health, and is the only way the rest of Switchyard
 * calls a model: each call goes through the circuit breaker, the timeouts and the health figures.
 */

export interface ModelView {
  readonly id: string;
  readonly provider: string;
  readonly pricing: ModelPricing;
  /** Simulated models only: the probability a user likes an answer. */
  readonly quality: number | null;
  readonly health: ModelHealthSnapshot;
}

export interface ModelManager {
  has(modelId: string): boolean;
  isAvailable(modelId: string): boolean;
  /**
   * Streams a completion. Throws UpstreamError MODEL_UNAVAILABLE when the circuit is open, and
   * the backend's errors otherwise; a call aborted by `request.signal` does not count against the
   * model's health.
   */
  stream(modelId: string, request: ModelCallRequest): BatchedEvents;
  view(modelId: string): ModelView;
  list(): ModelView[];
  /** Closes the connection pools of the HTTP backends it created (not of backends passed in). */
  close(): Promise<void>;
}

export interface ModelManagerDeps {
  readonly models: readonly ModelConfig[];
  /** Environment variables, where API keys are looked up by the names the config gives. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Replaces or adds backends (tests and benches); keyed by model id. */
  readonly backends?: ReadonlyMap<string, ModelBackend>;
  /** Bounds the calls in flight; a full model is unavailable until one ends. */
  readonly capacity?: Pick<Capacity, 'tryUpstreamCall' | 'hasRoomFor'>;
}

interface ManagedModel {
  readonly config: ModelConfig;
  readonly backend: ModelBackend;
  readonly health: ModelHealth;
}

function createBackend(config: ModelConfig, deps: ModelManagerDeps): ModelBackend | HttpModelBackend {
  const logger = deps.logger.child({ model: config.id });
  switch (config.provider) {
    case 'simulated':
      return createSimulatedBackend(config);
    case 'openai':
    case 'anthropic': {
      const apiKey = config.apiKeyEnv === undefined ? undefined : deps.env[config.apiKeyEnv];
      if (config.apiKeyEnv !== undefined && !apiKey) {
        logger.warn({ apiKeyEnv: config.apiKeyEnv }, 'API key environment variable is not set');
      }
      return config.provider === 'openai'
        ? createOpenAIBackend(config, { apiKey, logger })
        : createAnthropicBackend(config, { apiKey, logger });
    }
  }
}

const UNUSED_TIMEOUTS = { firstTokenMs: 1, idleMs: 1, totalMs: 1 };

/**
 * What a backend is asked: the call's stop as `stop`, and as `signal` Node's AbortSignal, made
 * only when a backend reads it (an HTTP backend hands it to undici; the simulated one only
 * watches `stop`), which saves a simulated call's AbortController (~0.8 KB while it waits).
 */
class BackendRequest implements CompletionRequest {
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly temperature: number | undefined;

  constructor(
    request: ModelCallRequest,
    readonly stop: LazyAbortSignal,
    private readonly stream: UpstreamCompletion,
  ) {
    this.messages = request.messages;
    this.maxTokens = request.maxTokens;
    this.temperature = request.temperature;
  }

  get signal(): AbortSignal {
    return this.stop.abortSignal;
  }

  /** A method, not a function per call: backends call it as `request.upstreamComplete?.()`. */
  upstreamComplete(): void {
    this.stream.upstreamComplete();
  }
}

/**
 * One model call through the manager: takes its capacity slot and the breaker's permission when
 * the stream starts, and reports its health figures when it settles. A class (the observer's
 * methods on its prototype): a chat waiting for its first token holds one.
 */
class ManagedCall implements StreamObserver, StreamStarter {
  private started = 0;
  private ttftMs: number | null = null;
  /** Only the call that took the half-open probe slot may give it back. */
  private probe = false;
  private model: ManagedModel | undefined;
  private slot: Lease | null = null;

  constructor(
    private readonly modelId: string,
    private readonly request: ModelCallRequest,
    private readonly get: (modelId: string) => ManagedModel,
    private readonly now: () => number,
    private readonly capacity: Pick<Capacity, 'tryUpstreamCall'> | undefined,
  ) {}

  start(signal: LazyAbortSignal, stream: UpstreamCompletion): AsyncIterable<readonly CompletionEvent[]> {
    const { modelId } = this;
    const managed = this.get(modelId);
    if (this.capacity) {
      this.slot = this.capacity.tryUpstreamCall(modelId);
      if (this.slot === null) {
        throw new UpstreamError('OVERLOADED', `model "${modelId}" has as many calls in flight as this instance takes on`, {
          retryable: true,
        });
      }
    }
    this.probe = managed.health.snapshot().status === 'half-open';
    if (!managed.health.tryAcquire()) {
      this.slot?.release();
      throw new UpstreamError('MODEL_UNAVAILABLE', `model "${modelId}" is unavailable (circuit open)`, {
        retryable: true,
      });
    }
    this.model = managed;
    this.started = this.now();
    return batchesOf(managed.backend.stream(new BackendRequest(this.request, signal, stream)));
  }

  firstToken(): void {
    this.ttftMs = this.now() - this.started;
  }

  settled(outcome: StreamOutcome): void {
    this.slot?.release();
    const { model } = this;
    if (model === undefined) return;
    if (outcome.kind === 'completed') {
      const latencyMs = this.now() - this.started;
      model.health.recordSuccess({ latencyMs, ttftMs: this.ttftMs ?? latencyMs });
    } else if (outcome.kind === 'failed' && !this.request.signal.aborted && !refusedAsInvalid(outcome.error)) {
      const { error } = outcome;
      model.health.recordFailure({ retryAfterMs: error instanceof UpstreamError ? error.retryAfterMs : undefined });
    } else if (this.probe) {
      // Aborted by the caller, or the consumer stopped early (client left): neither a success
      // nor a failure of the model, but a half-open probe slot must be freed.
      model.health.release();
    }
  }
}

export function createModelManager(deps: ModelManagerDeps): ModelManager {
  const now = deps.now ?? Date.now;
  const models = new Map<string, ManagedModel>();
  const ownedPools: HttpModelBackend[] = [];
  for (const config of deps.models) {
    let backend = deps.backends?.get(config.id);
    if (backend === undefined) {
      const created = createBackend(config, deps);
      if ('close' in created) ownedPools.push(created);
      backend = created;
    }
    // Simulated models keep the breaker's defaults; HTTP models may tune it.
    const health = createModelHealth({ ...(config.provider === 'simulated' ? {} : config.circuit), now });
    models.set(config.id, { config, backend, health });
  }

  // One timer for the deadlines of every call, not one per call; unreferenced, as whatever a
  // call waits on keeps the process alive.
  const deadlines = createDeadlineQueue({ ref: false });

  const get = (modelId: string): ManagedModel => {
    const model = models.get(modelId);
    if (!model) throw new UpstreamError('MODEL_UNAVAILABLE', `unknown model "${modelId}"`, { retryable: false });
    return model;
  };

  const view = (model: ManagedModel): ModelView => ({
    id: model.config.id,
    provider: model.config.provider,
    pricing: model.backend.pricing,
    quality: model.config.provider === 'simulated' ? model.config.quality : null,
    health: model.health.snapshot(),
  });

  function streamBatches(modelId: string, request: ModelCallRequest): AsyncIterable<readonly CompletionEvent[]> {
    const call = new ManagedCall(modelId, request, get, now, deps.capacity);
    // One iterator does the deadlines and the health figures: no layer between the backend and
    // the caller that only passes batches on. Unknown models fail in `start`, before the timeouts are read.
    return withStreamTimeouts(call, models.get(modelId)?.config.timeouts ?? UNUSED_TIMEOUTS, request.signal, call, deadlines);
  }

  return {
    has: (modelId) => models.has(modelId),
    isAvailable: (modelId) =>
      (models.get(modelId)?.health.available() ?? false) && (deps.capacity?.hasRoomFor(modelId) ?? true),
    stream: (modelId, request) => batchedEvents(() => streamBatches(modelId, request)),
    view: (modelId) => view(get(modelId)),
    list: () => [...models.values()].map(view),
    async close() {
      await Promise.all(ownedPools.map((backend) => backend.close()));
    },
  };
}
