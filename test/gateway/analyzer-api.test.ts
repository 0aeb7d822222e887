import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RequestSample } from '../../src/analyzer/performance-analyzer.js';
import { AnalyzerDocument, ChatDocument, MetricsDocument, ShadowDocument } from '../../src/client/generated/graphql.js';
import type { CompletionEvent, CompletionRequest, ModelBackend } from '../../src/models/backend.js';
import { createRng } from '../../src/router/random.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { untilAborted } from '../helpers/scripted-backend.js';

/** A model whose time to first token and token gaps vary (seeded), so percentiles have a spread to agree on. */
function jitteryBackend(id: string, seed: number): ModelBackend {
  const rng = createRng(seed);
  async function* stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
    await untilAborted(sleep(1 + rng() * 15), request.signal);
    for (let i = 0; i < 6; i++) {
      if (i > 0 && rng() < 0.3) await untilAborted(sleep(rng() * 4), request.signal);
      yield { type: 'token', text: `t${i} ` };
    }
    yield { type: 'usage', promptTokens: 8, completionTokens: 6, estimated: false };
    yield { type: 'finish', reason: 'stop' };
  }
  return { id, provider: 'jittery', pricing: { inputPer1k: 0.001, outputPer1k: 0.002 }, stream };
}

/** Nearest rank: the smallest sample with at least p% of the samples at or below it. */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

async function chat(gateway: RunningGateway, content: string, tags?: string[]): Promise<void> {
  for await (const result of gateway.client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content }], tags, cache: false },
  })) {
    expect(result.errors).toBeUndefined();
  }
}

describe('analyzer API', () => {
  let gateway: RunningGateway;
  const samples: RequestSample[] = [];
  const tags = ['code', 'chat', 'math'];

  beforeAll(async () => {
    const modelIds = ['m-weak', 'm-fair', 'm-good', 'm-best'];
    gateway = await startGateway({
      config: testConfigInput({ cache: { enabled: false }, shadow: { rate: 0 } }),
      backends: new Map(modelIds.map((id, i) => [id, jitteryBackend(id, 100 + i)])),
    });
    // Observe exactly what the chat service hands the analyzer: the samples the percentiles are over.
    const analyzer = gateway.app.services.analyzer;
    const record = analyzer.record.bind(analyzer);
    analyzer.record = (sample) => {
      samples.push(sample);
      record(sample);
    };
    for (let batch = 0; batch < 240; batch += 24) {
      await Promise.all(Array.from({ length: 24 }, (_, i) => chat(gateway, `q${batch + i}`, [tags[(batch + i) % 3]!])));
    }
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('reports percentiles that agree with a direct computation over the same samples within HDR precision', async () => {
    const { analyzer } = await gateway.client.request(AnalyzerDocument, {});
    const { resolutionMs, significantDigits } = gateway.config.analyzer.histogram;
    // HDR reports the highest value of the bucket holding the nearest-rank sample x: within
    // [x, x * (1 + 10^-d)], after rounding to the resolution (± resolution / 2).
    const expectAgrees = (reported: number, exact: number) => {
      expect(reported).toBeGreaterThanOrEqual(exact - resolutionMs / 2 - 1e-9);
      expect(reported).toBeLessThanOrEqual(exact * (1 + 10 ** -significantDigits) + resolutionMs / 2 + 1e-9);
    };
    const measured = samples.filter((s) => !s.error && !s.cached);
    expect(measured.length).toBe(240);

    const groups = [
      ...analyzer.arms.map((a) => ({ figures: a.windows, of: measured.filter((s) => s.armId === a.arm) })),
      ...analyzer.models.map((m) => ({ figures: m.windows, of: measured.filter((s) => s.modelId === m.model) })),
      ...analyzer.contexts.map((c) => ({ figures: c.windows, of: measured.filter((s) => s.context === c.context) })),
    ];
    let checked = 0;
    for (const { figures, of } of groups) {
      for (const window of [figures.sinceStart, figures.lastHour, figures.lastMinute]) {
        expect(window.requests).toBe(of.length);
        if (of.length === 0) continue;
        const ttfts = of.map((s) => s.ttftMs!);
        for (const [percentiles, values] of [
          [window.latencyMs!, of.map((s) => s.latencyMs)],
          [window.ttftMs!, ttfts],
        ] as const) {
          expect(percentiles.count).toBe(values.length);
          expectAgrees(percentiles.p50, nearestRank(values, 50));
          expectAgrees(percentiles.p95, nearestRank(values, 95));
          expectAgrees(percentiles.p99, nearestRank(values, 99));
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2 * 3 * 3);
    expect(analyzer.contexts.map((c) => c.context).sort()).toEqual(
      [...new Set(samples.map((s) => s.context))].sort(),
    );
    for (const arm of analyzer.arms) {
      expect(arm.bandit).not.toBeNull();
      expect(arm.bandit!.lower95).toBeLessThanOrEqual(arm.bandit!.posteriorMean);
      expect(arm.bandit!.upper95).toBeGreaterThanOrEqual(arm.bandit!.posteriorMean);
    }
  });

  it('serves /metrics in Prometheus text format with arm, model and context labels', async () => {
    const response = await fetch(new URL('/metrics', gateway.url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const families = parsePrometheusText(await response.text());

    const requests = families.get('switchyard_requests_total')!;
    expect(requests.type).toBe('counter');
    for (const sample of requests.samples) expect(Object.keys(sample.labels).sort()).toEqual(['arm', 'context', 'model']);
    expect(requests.samples.reduce((sum, s) => sum + s.value, 0)).toBe(240);
    const byArm = (arm: string) => samples.filter((s) => s.armId === arm).length;
    for (const arm of ['weak', 'fair', 'good', 'best']) {
      const counted = requests.samples.filter((s) => s.labels.arm === arm).reduce((sum, s) => sum + s.value, 0);
      expect(counted).toBe(byArm(arm));
    }

    const latency = families.get('switchyard_request_latency_seconds')!;
    expect(latency.type).toBe('histogram');
    const counts = latency.samples.filter((s) => s.name.endsWith('_count'));
    expect(counts.every((s) => s.labels.arm && s.labels.model && s.labels.context)).toBe(true);
    expect(counts.reduce((sum, s) => sum + s.value, 0)).toBe(240);
    expect(families.get('switchyard_arm_posterior_mean')?.type).toBe('gauge');
  });

  it('streams snapshots over graphql-ws and stops its timer when the client unsubscribes', async () => {
    const analyzer = gateway.app.services.analyzer;
    const snapshot = analyzer.snapshot.bind(analyzer);
    let snapshots = 0;
    analyzer.snapshot = (view) => {
      snapshots += 1;
      return snapshot(view);
    };
    // Every 250 ms timer started while subscribed must have fired or been cleared once it stops.
    const pending = new Set<unknown>();
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      callback: () => void,
      ms?: number,
    ) => {
      if (ms !== 250) return realSetTimeout(callback, ms);
      const handle: NodeJS.Timeout = realSetTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    }) as typeof setTimeout);
    const clearTimeoutSpy = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((handle) => {
      pending.delete(handle);
      realClearTimeout(handle);
    });

    // Restored whatever happens: other test files may share this worker (isolate: false).
    try {
      const received: string[] = [];
      for await (const result of gateway.client.subscribe(MetricsDocument, { intervalMs: 250 })) {
        expect(result.errors).toBeUndefined();
        expect(result.data!.metrics.arms).toHaveLength(4);
        received.push(result.data!.metrics.generatedAt);
        if (received.length === 3) break;
      }
      expect(received).toHaveLength(3);
      expect(new Set(received).size).toBe(3);

      // graphql-ws keeps one socket's messages in order: once this answer is back, the server has
      // handled the unsubscription.
      await gateway.client.request(ShadowDocument, {});
      expect(pending.size).toBe(0);
      const after = snapshots;
      await sleep(750);
      expect(snapshots).toBe(after);
    } finally {
      setTimeoutSpy.mockRestore();
      clearTimeoutSpy.mockRestore();
      analyzer.snapshot = snapshot;
    }
  });

  it('refuses an interval below the minimum with a code', async () => {
    const iterator = gateway.client.subscribe(MetricsDocument, { intervalMs: 50 });
    const first = await iterator.next();
    expect(first.value?.errors?.[0]?.extensions?.code).toBe('INTERVAL_OUT_OF_RANGE');
    await iterator.return?.();
  });
});
