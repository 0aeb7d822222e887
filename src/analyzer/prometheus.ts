import type * as PromClient from 'prom-client';
import type { AnalyzerConfig } from '../config/schema.js';
import { estimateRegret, type BanditView } from './bandit-view.js';
import type { RequestSample } from './performance-analyzer.js';
import type { EventLogStatus } from '../learning/event-log.js';

/**
 * Prometheus exposition of the analyzer's figures. Each call makes a Registry of its own (never
 * prom-client's global one), so any number of servers or tests can coexist in one process.
 * prom-client (with @opentelemetry/api, ~1.8 MB of heap) is loaded, and the registry built, at the
 * first scrape: a gateway nobody scrapes never holds it, and what is counted before is not lost.
 * Request figures arrive through `observe` (the analyzer calls it from `record`); the bandit's
 * figures are read from `bandit()` once per scrape.
 *
 * A request's figures are counted in a series object of our own (one per arm, model and context:
 * a few additions, no label hashing or validation per call, which was ~10–15 µs per chat through
 * prom-client), and handed to prom-client when a metric is collected: the counters' deltas through
 * their `collect()`, the two histograms as metrics that report each series' buckets in the values
 * prom-client's own Histogram reports (so the exposition is the same text: names, labels, order).
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
  /** Request records this version could not read, by where they were kept, read on every scrape. */
  readonly unreadableRequestRecords?: () => Readonly<Partial<Record<'journal' | 'shared', number>>>;
}

export interface MetricsRegistry {
  /** `sample.context` must already be the (cardinality-capped) context label. */
  observe(sample: RequestSample): void;
  observeReward(armId: string, modelId: string, context: string, reward: number): void;
  /** The exposition for GET /metrics: its text and content type. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

const DEFAULT_BUCKETS: AnalyzerConfig['prometheus'] = {
  latencyBucketsSeconds: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
  ttftBucketsSeconds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
};

const LABELS = ['arm', 'model', 'context'] as const;

interface SeriesLabels {
  readonly arm: string;
  readonly model: string;
  readonly context: string;
}

/** Bucket counts (per bound, not cumulative), sum and count of one series' observations. */
class SeriesBuckets {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: number) {
    this.counts = new Array<number>(bounds).fill(0);
  }
}

/** What one arm, model and context counted: counter deltas not yet collected, and histograms. */
class Series {
  requests = 0;
  errors = 0;
  refused = 0;
  cacheHits = 0;
  shadowCalls = 0;
  cost = 0;
  tokens = 0;
  rewards = 0;
  rewardSum = 0;
  /** A bit per counter field counted at least once (by 0 too, which shows the sample, as prom-client's inc does). */
  counted = 0;
  latency: SeriesBuckets | null = null;
  ttft: SeriesBuckets | null = null;

  constructor(readonly labels: SeriesLabels) {}
}

type CounterField = 'requests' | 'errors' | 'refused' | 'cacheHits' | 'shadowCalls' | 'cost' | 'tokens' | 'rewards' | 'rewardSum';

const BIT: Record<CounterField, number> = {
  requests: 1,
  errors: 2,
  cacheHits: 4,
  shadowCalls: 8,
  cost: 16,
  tokens: 32,
  rewards: 64,
  rewardSum: 128,
  refused: 256,
};

/** Series by counter field, in the order of their first count there (prom-client's order). */
type CountedSeries = Record<CounterField, Series[]>;

/** Totals, added up in the order prom-client would add them, so the figures are the same to the last bit. */
function count(counted: CountedSeries, series: Series, field: CounterField, value: number): void {
  series[field] += value;
  const bit = BIT[field];
  if ((series.counted & bit) === 0) {
    series.counted |= bit;
    counted[field].push(series);
  }
}

/**
 * A histogram by arm, model and context whose observations are counted in the series objects,
 * exposed as prom-client's Histogram exposes itself (`getForPromString`: a cumulative bucket per
 * bound, `+Inf`, `_sum` and `_count` per series, in the order series were first observed).
 */
class SeriesHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Series in the order of their first observation here. */
  private series: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
    private readonly field: 'latency' | 'ttft',
  ) {}

  /**
   * Values at or below a bound count in its bucket; above every bound, only in `+Inf` (as
   * prom-client's findBound). A value that is not finite is not counted (prom-client throws).
   */
  observe(series: Series, value: number): void {
    if (!Number.isFinite(value)) return;
    const { field } = this;
    let buckets = series[field];
    if (buckets === null) {
      buckets = series[field] = new SeriesBuckets(this.upperBounds.length);
      this.series.push(series);
    }
    const { upperBounds } = this;
    for (let i = 0; i < upperBounds.length; i++) {
      if (value <= upperBounds[i]!) {
        buckets.counts[i]! += 1;
        break;
      }
    }
    buckets.sum += value;
    buckets.count += 1;
  }

  getForPromString() {
    const bucketName = `${this.name}_bucket`;
    const values: Array<{ labels: object; sharedLabels: SeriesLabels; value: number; metricName: string; exemplar: null | undefined }> = [];
    for (const series of this.series) {
      const sharedLabels = series.labels;
      const buckets = series[this.field]!;
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += buckets.counts[i]!;
        values.push({ labels: { le: this.upperBounds[i] }, sharedLabels, value: cumulative, metricName: bucketName, exemplar: null });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: buckets.count, metricName: bucketName, exemplar: null },
        { labels: {}, sharedLabels, value: buckets.sum, metricName: `${this.name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: buckets.count, metricName: `${this.name}_count`, exemplar: undefined },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const series of this.series) series[this.field] = null;
    this.series = [];
  }

  /** What prom-client's Histogram.get() gives: the series' labels merged into each value's. */
  get() {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...value }) => ({ ...value, labels: { ...labels, ...sharedLabels } })),
    };
  }
}

export function createMetricsRegistry(deps: MetricsRegistryDeps = {}): MetricsRegistry {
  const prefix = deps.prefix ?? 'switchyard_';
  const buckets = deps.buckets ?? DEFAULT_BUCKETS;

  /** Series by arm, then model, then context. */
  const seriesByArm = new Map<string, Map<string, Map<string, Series>>>();
  const counted: CountedSeries = {
    requests: [],
    errors: [],
    refused: [],
    cacheHits: [],
    shadowCalls: [],
    cost: [],
    tokens: [],
    rewards: [],
    rewardSum: [],
  };
  const seriesFor = (arm: string, model: string, context: string): Series => {
    let byModel = seriesByArm.get(arm);
    if (byModel === undefined) seriesByArm.set(arm, (byModel = new Map()));
    let byContext = byModel.get(model);
    if (byContext === undefined) byModel.set(model, (byContext = new Map()));
    let series = byContext.get(context);
    if (series === undefined) {
      series = new Series({ arm, model, context });
      byContext.set(context, series);
    }
    return series;
  };

  const latency = new SeriesHistogram(
    `${prefix}request_latency_seconds`,
    'Request latency of successful, uncached requests.',
    [...buckets.latencyBucketsSeconds],
    'latency',
  );
  const ttft = new SeriesHistogram(
    `${prefix}time_to_first_token_seconds`,
    'Time to first token of successful, uncached requests.',
    [...buckets.ttftBucketsSeconds],
    'ttft',
  );

  // One bandit view per scrape, so every gauge of a scrape reports the same draw of figures.
  let scrapeView: BanditView | null = null;
  const currentView = (): BanditView | null => scrapeView ?? deps.bandit?.() ?? null;

  /** The registry and every metric in it, at the first scrape. */
  const register = ({ Counter, Gauge, Registry }: typeof PromClient): PromClient.Registry => {
    const registry = new Registry();
    const registers = [registry];

    const counter = (name: string, help: string, field: CounterField) =>
      new Counter({
        name: prefix + name,
        help,
        labelNames: LABELS,
        registers,
        collect() {
          // Each series' total, in the order prom-client would hold them.
          this.reset();
          for (const series of counted[field]) this.inc(series.labels, series[field]);
        },
      });

    counter('requests_total', 'Requests served, by arm, model and context (cache hits and shadow calls included).', 'requests');
    counter('request_errors_total', 'Requests that failed, refusals apart.', 'errors');
    counter(
      'request_refusals_total',
      'Requests refused rather than failed by the model: circuit open, instance full, or refused by the provider as invalid (400, 413, 422).',
      'refused',
    );
    counter('cache_hits_total', 'Requests answered from the cache.', 'cacheHits');
    counter('shadow_requests_total', 'Background shadow calls.', 'shadowCalls');
    counter('cost_usd_total', 'Spend in US dollars.', 'cost');
    counter('completion_tokens_total', 'Completion tokens generated.', 'tokens');
    counter('rewards_total', 'Rewards given to the bandit.', 'rewards');
    counter('reward_sum', 'Sum of rewards given to the bandit; divide by rewards_total for the mean.', 'rewardSum');
    // prom-client takes any object that reports itself as its metrics do.
    registry.registerMetric(latency as unknown as PromClient.Metric);
    registry.registerMetric(ttft as unknown as PromClient.Metric);

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
      gauge(
        'learning_newer_format',
        'The newest learning format met in the shared log that this version cannot read (0: none); its events are skipped and its snapshot kept.',
        (s) => s.newerFormat ?? 0,
      );
      new Gauge({
        name: `${prefix}learning_skipped_events_total`,
        help: 'Shared-log learning events not applied here: of a newer format (a mixed-version fleet) or malformed.',
        labelNames: ['reason'],
        registers,
        collect() {
          const { skipped } = learning();
          this.set({ reason: 'newer' }, skipped.newer);
          this.set({ reason: 'malformed' }, skipped.malformed);
        },
      });
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

    const unreadableRecords = deps.unreadableRequestRecords;
    if (unreadableRecords) {
      new Counter({
        name: `${prefix}request_records_unreadable_total`,
        help:
          'Request records this version cannot read, treated as unknown: reads of shared ones in Redis (store "shared"; the same record read twice counts twice), journaled ones skipped at start-up (store "journal").',
        labelNames: ['store'],
        registers,
        collect() {
          this.reset();
          for (const [store, count] of Object.entries(unreadableRecords())) this.inc({ store }, count);
        },
      });
    }

    return registry;
  };
  let registry: Promise<PromClient.Registry> | undefined;

  return {
    observe(sample) {
      const series = seriesFor(sample.armId, sample.modelId, sample.context);
      count(counted, series, 'requests', 1);
      if (sample.costUsd > 0) count(counted, series, 'cost', sample.costUsd);
      if (sample.shadow) count(counted, series, 'shadowCalls', 1);
      if (sample.error) {
        count(counted, series, sample.refused ? 'refused' : 'errors', 1);
        return;
      }
      if (sample.cached) {
        count(counted, series, 'cacheHits', 1);
        return;
      }
      if (sample.completionTokens > 0) count(counted, series, 'tokens', sample.completionTokens);
      latency.observe(series, sample.latencyMs / 1000);
      if (sample.ttftMs !== null) ttft.observe(series, sample.ttftMs / 1000);
    },
    observeReward(armId, modelId, context, reward) {
      const series = seriesFor(armId, modelId, context);
      count(counted, series, 'rewards', 1);
      // A counter cannot go down (prom-client would throw here); rewards are never negative.
      if (reward >= 0) count(counted, series, 'rewardSum', reward);
    },
    async scrape() {
      registry ??= import('prom-client').then(register);
      const loaded = await registry;
      scrapeView = deps.bandit?.() ?? null;
      try {
        return { contentType: loaded.contentType, body: await loaded.metrics() };
      } finally {
        scrapeView = null;
      }
    },
  };
}
