import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AnalyzerConfig } from '../config/schema.js';
import { estimateRegret, type BanditView } from './bandit-view.js';
import type { RequestSample } from './performance-analyzer.js';
import type { EventLogStatus } from '../learning/event-log.js';

/**
 * Prometheus exposition of the analyzer's figures. Each call makes a Registry of its own (never
 * prom-client's global one), so any number of servers or tests can coexist in one process.
 * Request figures arrive through `observe` (the analyzer calls it from `record`); the bandit's
 * figures are read from `bandit()` once per scrape.
 */

export interface MetricsRegistryDeps {
  /** The bandit's current figures, read on every scrape. */
  readonly bandit?: () => BanditView;
  readonly buckets?: AnalyzerConfig['prometheus'];
  /** The learning event log's figures, read on every scrape. */
  readonly learning?: () => EventLogStatus;
  /** Prefix of every metric name. */
  readonly prefix?: string;
  /** Clients flagged as disagreeing with everyone else's feedback, from the shared per-interval view. */
  readonly disagreeingClients?: () => number;
}

export interface MetricsRegistry {
  readonly registry: Registry;
  readonly contentType: string;
  /** `sample.context` must already be the (cardinality-capped) context label. */
  observe(sample: RequestSample): void;
  observeReward(armId: string, modelId: string, context: string, reward: number): void;
  /** The exposition text for GET /metrics. */
  metrics(): Promise<string>;
}

const DEFAULT_BUCKETS: AnalyzerConfig['prometheus'] = {
  latencyBucketsSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
  ttftBucketsSeconds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
};

const LABELS = ['arm', 'model', 'context'] as const;

export function createMetricsRegistry(deps: MetricsRegistryDeps = {}): MetricsRegistry {
  const registry = new Registry();
  const prefix = deps.prefix ?? 'switchyard_';
  const buckets = deps.buckets ?? DEFAULT_BUCKETS;
  const registers = [registry];

  const counter = (name: string, help: string) =>
    new Counter({ name: prefix + name, help, labelNames: LABELS, registers });

  const requests = counter('requests_total', 'Requests served, by arm, model and context (cache hits and shadow calls included).');
  const errors = counter('request_errors_total', 'Requests that failed.');
  const cacheHits = counter('cache_hits_total', 'Requests answered from the cache.');
  const shadowCalls = counter('shadow_requests_total', 'Background shadow calls.');
  const cost = counter('cost_usd_total', 'Spend in US dollars.');
  const tokens = counter('completion_tokens_total', 'Completion tokens generated.');
  const rewards = counter('rewards_total', 'Rewards given to the bandit.');
  const rewardSum = counter('reward_sum', 'Sum of rewards given to the bandit; divide by rewards_total for the mean.');
  const latency = new Histogram({
    name: `${prefix}request_latency_seconds`,
    help: 'Request latency of successful, uncached requests.',
    labelNames: LABELS,
    buckets: [...buckets.latencyBucketsSeconds],
    registers,
  });
  const ttft = new Histogram({
    name: `${prefix}time_to_first_token_seconds`,
    help: 'Time to first token of successful, uncached requests.',
    labelNames: LABELS,
    buckets: [...buckets.ttftBucketsSeconds],
    registers,
  });

  // One bandit view per scrape, so every gauge of a scrape reports the same draw of figures.
  let scrapeView: BanditView | null = null;
  const currentView = (): BanditView | null => scrapeView ?? deps.bandit?.() ?? null;

  const banditGauge = (name: string, help: string, pick: (arm: BanditView['arms'][number]) => number) =>
    new Gauge({
      name: prefix + name,
      help,
      labelNames: LABELS,
      registers,
      collect() {
        this.reset();
        for (const arm of currentView()?.arms ?? []) {
          this.set({ arm: arm.armId, model: arm.modelId, context: arm.context }, pick(arm));
        }
      },
    });

  if (deps.bandit) {
    banditGauge('arm_posterior_mean', "Posterior mean of the arm's quality; context \"*\" is all contexts.", (a) => a.posteriorMean);
    banditGauge('arm_posterior_lower95', 'Lower end of the 95% credible interval of the reward.', (a) => a.lower95);
    banditGauge('arm_posterior_upper95', 'Upper end of the 95% credible interval of the reward.', (a) => a.upper95);
    banditGauge('arm_probability_best', 'Posterior probability that the arm is the best in its context.', (a) => a.probabilityBest);
    banditGauge('arm_pulls', 'Times the bandit chose the arm.', (a) => a.pulls);
    new Gauge({
      name: `${prefix}regret_estimate`,
      help: 'Posterior pseudo-regret: sum of pulls times the gap to the best posterior mean.',
      labelNames: ['context'],
      registers,
      collect() {
        this.reset();
        const view = currentView();
        if (!view) return;
        for (const [context, regret] of estimateRegret(view).byContext) this.set({ context }, regret.total);
      },
    });
  }

  const learning = deps.learning;
  if (learning) {
    const gauge = (name: string, help: string, pick: (status: EventLogStatus) => number) =>
      new Gauge({
        name: prefix + name,
        help,
        registers,
        collect() {
          this.set(pick(learning()));
        },
      });
    gauge('learning_buffered_events', 'Learning events observed here and not yet appended to the shared log (Redis unreachable).', (s) => s.buffered);
    gauge('learning_dropped_events_total', 'Buffered learning events dropped because the buffer was full (learning.maxBuffered).', (s) => s.dropped);
    gauge('learning_applied_events_total', 'Learning events applied to this instance since it started, from every instance.', (s) => s.applied);
    gauge('learning_degraded', '1 while the shared learning log cannot be reached (learning continues locally).', (s) => (s.state === 'degraded' ? 1 : 0));
  }

  const disagreeing = deps.disagreeingClients;
  if (disagreeing) {
    new Gauge({
      name: `${prefix}disagreeing_clients`,
      help: "Clients whose feedback disagrees with everyone else's on the same arm and context (analyzer.disagreement).",
      registers,
      collect() {
        this.set(disagreeing());
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    observe(sample) {
      const labels = { arm: sample.armId, model: sample.modelId, context: sample.context };
      requests.inc(labels);
      if (sample.costUsd > 0) cost.inc(labels, sample.costUsd);
      if (sample.shadow) shadowCalls.inc(labels);
      if (sample.error) {
        errors.inc(labels);
        return;
      }
      if (sample.cached) {
        cacheHits.inc(labels);
        return;
      }
      if (sample.completionTokens > 0) tokens.inc(labels, sample.completionTokens);
      latency.observe(labels, sample.latencyMs / 1000);
      if (sample.ttftMs !== null) ttft.observe(labels, sample.ttftMs / 1000);
    },
    observeReward(armId, modelId, context, reward) {
      const labels = { arm: armId, model: modelId, context };
      rewards.inc(labels);
      rewardSum.inc(labels, reward);
    },
    async metrics() {
      scrapeView = deps.bandit?.() ?? null;
      try {
        return await registry.metrics();
      } finally {
        scrapeView = null;
      }
    },
  };
}
