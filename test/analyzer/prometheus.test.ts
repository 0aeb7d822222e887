import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { BanditView } from '../../src/analyzer/bandit-view.js';
import { createPerformanceAnalyzer } from '../../src/analyzer/performance-analyzer.js';
import { createMetricsRegistry } from '../../src/analyzer/prometheus.js';
import { parsePrometheusText, type ParsedFamily } from '../helpers/prometheus-text.js';

function valueOf(families: Map<string, ParsedFamily>, family: string, sampleName: string, labels: Record<string, string>) {
  return families
    .get(family)
    ?.samples.find((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const view: BanditView = {
  arms: [
    { armId: 'fast', modelId: 'm-fast', context: '*', pulls: 30, posteriorMean: 0.6, lower95: 0.5, upper95: 0.7, probabilityBest: 0.25 },
    { armId: 'smart', modelId: 'm-smart', context: '*', pulls: 70, posteriorMean: 0.8, lower95: 0.7, upper95: 0.9, probabilityBest: 0.75 },
    { armId: 'smart', modelId: 'm-smart', context: 'code "x"\\y', pulls: 70, posteriorMean: 0.8, lower95: 0.7, upper95: 0.9, probabilityBest: 1 },
  ],
};

describe('Prometheus metrics', () => {
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('expose labelled request figures, latency histograms and bandit gauges in valid text format', async () => {
    let scrapes = 0;
    const metrics = createMetricsRegistry({
      bandit: () => {
        scrapes += 1;
        return view;
      },
    });
    const analyzer = createPerformanceAnalyzer({ now: () => 0, metrics });
    analyzer.record({ armId: 'fast', modelId: 'm-fast', context: 'chat', latencyMs: 80, ttftMs: 20, completionTokens: 12, costUsd: 0.0005, error: false, cached: false });
    analyzer.record({ armId: 'fast', modelId: 'm-fast', context: 'chat', latencyMs: 3_000, ttftMs: 700, completionTokens: 40, costUsd: 0.001, error: false, cached: false });
    analyzer.record({ armId: 'fast', modelId: 'm-fast', context: 'chat', latencyMs: 10, ttftMs: null, completionTokens: 0, costUsd: 0, error: true, cached: false });
    analyzer.record({ armId: 'smart', modelId: 'm-smart', context: 'code "x"\\y', latencyMs: 1, ttftMs: 1, completionTokens: 30, costUsd: 0, error: false, cached: true });
    analyzer.record({ armId: 'smart', modelId: 'm-smart', context: 'chat', latencyMs: 900, ttftMs: 300, completionTokens: 30, costUsd: 0.02, error: false, cached: false, shadow: true });
    analyzer.recordReward('fast', 'chat', 0.25);
    analyzer.recordReward('fast', 'chat', 0.75);

    // Served over a real socket, as GET /metrics would be.
    server = createServer((_req, res) => {
      void metrics.scrape().then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheusText(await response.text());
    expect(scrapes).toBe(1);

    const chatFast = { arm: 'fast', model: 'm-fast', context: 'chat' };
    expect(valueOf(families, 'switchyard_requests_total', 'switchyard_requests_total', chatFast)).toBe(3);
    expect(valueOf(families, 'switchyard_request_errors_total', 'switchyard_request_errors_total', chatFast)).toBe(1);
    expect(valueOf(families, 'switchyard_cost_usd_total', 'switchyard_cost_usd_total', chatFast)).toBeCloseTo(0.0015, 12);
    expect(valueOf(families, 'switchyard_completion_tokens_total', 'switchyard_completion_tokens_total', chatFast)).toBe(52);
    expect(valueOf(families, 'switchyard_rewards_total', 'switchyard_rewards_total', chatFast)).toBe(2);
    expect(valueOf(families, 'switchyard_reward_sum', 'switchyard_reward_sum', chatFast)).toBe(1);
    expect(families.get('switchyard_request_latency_seconds')!.type).toBe('histogram');
    const latency = (suffix: string, extra: Record<string, string> = {}) =>
      valueOf(families, 'switchyard_request_latency_seconds', `switchyard_request_latency_seconds${suffix}`, { ...chatFast, ...extra });
    expect(latency('_count')).toBe(2);
    expect(latency('_sum')).toBeCloseTo(3.08, 12);
    expect(latency('_bucket', { le: '0.1' })).toBe(1);
    expect(latency('_bucket', { le: '5' })).toBe(2);
    expect(valueOf(families, 'switchyard_time_to_first_token_seconds', 'switchyard_time_to_first_token_seconds_count', chatFast)).toBe(2);

    // The awkward context label survives escaping.
    const codeSmart = { arm: 'smart', model: 'm-smart', context: 'code "x"\\y' };
    expect(valueOf(families, 'switchyard_cache_hits_total', 'switchyard_cache_hits_total', codeSmart)).toBe(1);
    expect(valueOf(families, 'switchyard_shadow_requests_total', 'switchyard_shadow_requests_total', { arm: 'smart', context: 'chat' })).toBe(1);

    expect(families.get('switchyard_arm_posterior_mean')!.type).toBe('gauge');
    expect(valueOf(families, 'switchyard_arm_posterior_mean', 'switchyard_arm_posterior_mean', { arm: 'smart', context: '*' })).toBe(0.8);
    expect(valueOf(families, 'switchyard_arm_probability_best', 'switchyard_arm_probability_best', { arm: 'fast', context: '*' })).toBe(0.25);
    expect(valueOf(families, 'switchyard_arm_pulls', 'switchyard_arm_pulls', { arm: 'fast', context: '*' })).toBe(30);
    expect(valueOf(families, 'switchyard_regret_estimate', 'switchyard_regret_estimate', { context: '*' })).toBeCloseTo(30 * 0.2, 12);
  });

  it('keeps registries apart, so many can live in one process', async () => {
    const first = createMetricsRegistry();
    const second = createMetricsRegistry();
    first.observe({ armId: 'a', modelId: 'm', context: 'c', latencyMs: 5, ttftMs: 1, completionTokens: 1, costUsd: 0, error: false, cached: false });
    const firstFamilies = parsePrometheusText((await first.scrape()).body);
    const secondFamilies = parsePrometheusText((await second.scrape()).body);
    expect(valueOf(firstFamilies, 'switchyard_requests_total', 'switchyard_requests_total', { arm: 'a' })).toBe(1);
    expect(valueOf(secondFamilies, 'switchyard_requests_total', 'switchyard_requests_total', { arm: 'a' })).toBeUndefined();
    expect(firstFamilies.has('switchyard_arm_posterior_mean')).toBe(false);
  });

  it("scrapes the same text as prom-client's own Counter and Histogram fed the same samples, scrape after scrape", async () => {
    const metrics = createMetricsRegistry();
    // The reference: what the figures were before they were counted in series objects of our own.
    const registry = new Registry();
    const registers = [registry];
    const labelNames = ['arm', 'model', 'context'];
    const counter = (name: string) => new Counter({ name: `switchyard_${name}`, help: 'h', labelNames, registers });
    const [requests, errors, refusals, cacheHits, shadowCalls, cost, tokens, rewards, rewardSum] = [
      'requests_total', 'request_errors_total', 'request_refusals_total', 'cache_hits_total', 'shadow_requests_total', 'cost_usd_total', 'completion_tokens_total', 'rewards_total', 'reward_sum',
    ].map(counter) as [Counter, Counter, Counter, Counter, Counter, Counter, Counter, Counter, Counter];
    const latency = new Histogram({ name: 'switchyard_request_latency_seconds', help: 'h', labelNames, registers, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120] });
    const ttft = new Histogram({ name: 'switchyard_time_to_first_token_seconds', help: 'h', labelNames, registers, buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30] });
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const pick = <T,>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const samplesOnly = (text: string) => text.split('\n').filter((line) => !line.startsWith('# HELP'));
    for (let scrape = 0; scrape < 5; scrape++) {
      for (let i = 0; i < 300; i++) {
        const sample = {
          armId: pick(['a', 'b', 'c"x']),
          modelId: pick(['m1', 'm2']),
          context: pick(['*', 'chat', 'code\\y']),
          latencyMs: pick([0, 50, 100, 3_000, 200_000, random() * 5_000]),
          ttftMs: pick([null, 0, 10, 25, random() * 2_000, 100_000]),
          completionTokens: pick([0, 5, 50]),
          costUsd: pick([0, 0.001, random()]),
          error: random() < 0.1,
          refused: random() < 0.3,
          cached: random() < 0.1,
          shadow: random() < 0.1,
        };
        metrics.observe(sample);
        const labels = { arm: sample.armId, model: sample.modelId, context: sample.context };
        requests.inc(labels);
        if (sample.costUsd > 0) cost.inc(labels, sample.costUsd);
        if (sample.shadow) shadowCalls.inc(labels);
        if (sample.error) (sample.refused ? refusals : errors).inc(labels);
        else if (sample.cached) cacheHits.inc(labels);
        else {
          if (sample.completionTokens > 0) tokens.inc(labels, sample.completionTokens);
          latency.observe(labels, sample.latencyMs / 1000);
          if (sample.ttftMs !== null) ttft.observe(labels, sample.ttftMs / 1000);
        }
        if (random() < 0.2) {
          const reward = pick([0, 0.5, 1, random()]);
          metrics.observeReward(sample.armId, sample.modelId, sample.context, reward);
          rewards.inc(labels);
          rewardSum.inc(labels, reward);
        }
      }
      expect(samplesOnly((await metrics.scrape()).body)).toEqual(samplesOnly(await registry.metrics()));
    }
  });

  it('rejects malformed exposition text (the parser is strict)', () => {
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="1} 1\n')).toThrow();
    expect(() => parsePrometheusText('# TYPE x counter\ny 1\n')).toThrow();
    expect(() => parsePrometheusText('# TYPE x counter\nx one\n')).toThrow();
    expect(() =>
      parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n'),
    ).toThrow();
  });
});
