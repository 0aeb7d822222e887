import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { OutcomeEvent } from '../../src/learning/learning-events.js';
import { createLearningRules, failedCallKind } from '../../src/learning/learning-rules.js';
import { UpstreamError } from '../../src/models/backend.js';
import { createLearningState } from '../../src/learning/learning-state.js';
import { parseLearningSnapshot } from '../../src/learning/learning-format.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

const config = parseConfig({ ...defaultConfig, reward: { quality: 2 } });
const reward = createRewardCalculator(config.reward);
const rules = createLearningRules(reward);

const outcome = (overrides: Partial<OutcomeEvent>): OutcomeEvent => ({
  type: 'outcome',
  kind: 'primary',
  requestId: 'r1',
  armId: 'a',
  modelId: 'm',
  context: 'code',
  costUsd: 0.01,
  latencyMs: 120,
  ttftMs: 20,
  promptTokens: 5,
  completionTokens: 7,
  error: false,
  ...overrides,
});

describe('learning rules', () => {
  it('a pull counts a pull and nothing else', () => {
    expect(rules({ type: 'pull', requestId: 'r1', armId: 'a', context: 'code' })).toEqual({
      stats: [{ kind: 'pull', armId: 'a', context: 'code' }],
      analyzer: [],
      operator: [],
      shadow: [],
    });
  });

  it('a completed call teaches cost and latency (spent, what a budget is paced on); an error also a quality-0 observation at the quality weight', () => {
    const ok = rules(outcome({}));
    expect(ok.stats).toEqual([{ kind: 'operational', armId: 'a', context: 'code', costUsd: 0.01, latencyMs: 120, spent: true }]);
    const failed = rules(outcome({ error: true }));
    expect(failed.stats).toContainEqual({ kind: 'evidence', armId: 'a', context: 'code', reward: 0, weight: 2 });
    expect(failed.analyzer).toEqual([{ kind: 'sample', sample: expect.objectContaining({ error: true, cached: false }) }]);
  });

  it('cached and refused outcomes teach the bandit nothing, the analyzer a sample', () => {
    for (const kind of ['cached', 'refused'] as const) {
      const lessons = rules(outcome({ kind, error: kind === 'refused' }));
      expect(lessons.stats).toEqual([]);
      expect(lessons.analyzer).toHaveLength(1);
    }
    const cached = rules(outcome({ kind: 'cached' })).analyzer[0]!;
    expect(cached.kind === 'sample' && cached.sample).toMatchObject({ cached: true, costUsd: 0 });
  });

  it('a failed call is a failed pull unless it was refused: here (circuit, overload) or by the provider as invalid (400, 413, 422)', () => {
    const http = (status: number) => new UpstreamError('UPSTREAM_HTTP_ERROR', `HTTP ${status}`, { retryable: status >= 500, status });
    for (const status of [400, 413, 422]) expect(failedCallKind(http(status))).toBe('refused');
    for (const status of [401, 404, 408, 500, 503]) expect(failedCallKind(http(status))).toBe('primary');
    expect(failedCallKind(new UpstreamError('UPSTREAM_RATE_LIMITED', '429', { retryable: true, status: 429 }))).toBe('primary');
    expect(failedCallKind(new UpstreamError('UPSTREAM_CONNECTION_ERROR', 'reset', { retryable: true }))).toBe('primary');
    for (const code of ['MODEL_UNAVAILABLE', 'OVERLOADED'] as const) {
      expect(failedCallKind(new UpstreamError(code, code, { retryable: true }))).toBe('refused');
    }
  });

  it('a shadow outcome teaches cost and latency without a pull, and marks the analyzer sample', () => {
    const lessons = rules(outcome({ kind: 'shadow' }));
    expect(lessons.stats.map((l) => l.kind)).toEqual(['operational']);
    const sample = lessons.analyzer[0]!;
    expect(sample.kind === 'sample' && sample.sample.shadow).toBe(true);
  });

  it('a second judgement retracts the score it replaces: the sum is the last score alone', () => {
    const verdict = { armId: 'a', context: 'code', costUsd: 0, latencyMs: 0 };
    const first = rules({ type: 'judgement', kind: 'feedback', requestId: 'r1', client: null, shared: false, verdicts: [{ ...verdict, score: 1, previous: null }] });
    const second = rules({ type: 'judgement', kind: 'feedback', requestId: 'r1', client: null, shared: false, verdicts: [{ ...verdict, score: 0.25, previous: 1 }] });
    expect(first.stats).toEqual([{ kind: 'evidence', armId: 'a', context: 'code', reward: 1, weight: 2 }]);
    expect(second.stats).toEqual([
      { kind: 'evidence', armId: 'a', context: 'code', reward: 1, weight: -2 },
      { kind: 'evidence', armId: 'a', context: 'code', reward: 0.25, weight: 2 },
    ]);
    // The analyzer counts a request's reward once, as first given.
    expect(first.analyzer).toHaveLength(1);
    expect(second.analyzer).toHaveLength(0);
  });

  it('a judgement on a shared answer (cache, another request\'s call) teaches nothing', () => {
    const lessons = rules({
      type: 'judgement',
      kind: 'feedback',
      requestId: 'r1',
      client: null,
      shared: true,
      verdicts: [{ armId: 'a', context: 'code', score: 1, previous: null, costUsd: 0, latencyMs: 0 }],
    });
    expect(lessons).toEqual({ stats: [], analyzer: [], operator: [], shadow: [] });
  });

  it('a comparison teaches both arms at once', () => {
    const lessons = rules({
      type: 'judgement',
      kind: 'comparison',
      requestId: 'r1',
      client: null,
      shared: false,
      verdicts: [
        { armId: 'a', context: 'code', score: 0, previous: null, costUsd: 0, latencyMs: 0 },
        { armId: 'b', context: 'code', score: 1, previous: null, costUsd: 0, latencyMs: 0 },
      ],
    });
    expect(lessons.stats).toEqual([
      { kind: 'evidence', armId: 'a', context: 'code', reward: 0, weight: 2 },
      { kind: 'evidence', armId: 'b', context: 'code', reward: 1, weight: 2 },
    ]);
    expect(lessons.shadow).toEqual([{ kind: 'comparison', armId: 'b', preferred: 'SHADOW', replaces: null }]);
  });

  it("a comparison's verdicts teach at the judge's weight (the share cap), a replacement retracting at it", () => {
    const lessons = rules({
      type: 'judgement',
      kind: 'comparison',
      requestId: 'r1',
      client: null,
      shared: false,
      verdicts: [
        { armId: 'a', context: 'code', score: 0, previous: 1, costUsd: 0, latencyMs: 0, weight: 0.25 },
        { armId: 'b', context: 'code', score: 1, previous: 0, costUsd: 0, latencyMs: 0, weight: 0 },
      ],
    });
    expect(lessons.stats).toEqual([
      { kind: 'evidence', armId: 'a', context: 'code', reward: 1, weight: -0.5 },
      { kind: 'evidence', armId: 'a', context: 'code', reward: 0, weight: 0.5 },
    ]);
  });

  it('a second comparison moves the shadow arm\'s tally from the verdict it replaces', () => {
    const lessons = rules({
      type: 'judgement',
      kind: 'comparison',
      requestId: 'r1',
      client: null,
      shared: false,
      verdicts: [
        { armId: 'a', context: 'code', score: 0.5, previous: 0, costUsd: 0, latencyMs: 0 },
        { armId: 'b', context: 'code', score: 0.5, previous: 1, costUsd: 0, latencyMs: 0 },
      ],
    });
    expect(lessons.shadow).toEqual([{ kind: 'comparison', armId: 'b', preferred: 'TIE', replaces: 'SHADOW' }]);
  });

  it('operator changes are operator lessons only', () => {
    expect(rules({ type: 'arm-enabled', armId: 'a', enabled: false }).operator).toEqual([{ kind: 'arm-enabled', armId: 'a', enabled: false }]);
    expect(rules({ type: 'shadow-rate', rate: 0.5 }).stats).toEqual([]);
  });
});

describe('learning state', () => {
  const arms = [
    { id: 'a', model: 'm', enabled: true },
    { id: 'b', model: 'm', enabled: true },
  ];
  const stateOf = (maxContexts = 1_000) =>
    createLearningState({ stats: createStats(config.bandit, reward), rules, arms, maxContexts });

  it('two replicas applying the same events in the same order hold identical state', () => {
    const one = stateOf(3);
    const two = stateOf(3);
    const events = Array.from({ length: 400 }, (_, i) => [
      { type: 'pull' as const, requestId: `r${i}`, armId: i % 3 ? 'a' : 'b', context: `t${i % 5}/x` },
      outcome({ requestId: `r${i}`, armId: i % 3 ? 'a' : 'b', context: `t${i % 5}/x`, latencyMs: i, error: i % 7 === 0 }),
    ]).flat();
    for (const event of events) {
      one.apply(event);
      two.apply(event);
    }
    expect(one.snapshot()).toEqual(two.snapshot());
    // The context bound is decided in log order: t0, t0/x, then t1 (its chain overflows once), no more.
    expect([...one.knownContexts()].sort()).toEqual(['t0', 't0/x', 't1', 't1/x']);
  });

  it('a disable that would leave no arm enabled is dropped, and operator changes survive a snapshot', () => {
    const state = stateOf();
    state.apply({ type: 'arm-enabled', armId: 'a', enabled: false });
    state.apply({ type: 'arm-enabled', armId: 'b', enabled: false });
    expect([state.isArmEnabled('a'), state.isArmEnabled('b')]).toEqual([false, true]);
    state.apply({ type: 'shadow-rate', rate: 0.25 });
    const restored = stateOf();
    restored.restore(state.snapshot());
    expect([restored.isArmEnabled('a'), restored.shadowRate()]).toEqual([false, 0.25]);
  });

  it('comparison tallies count each request once, as last judged, and survive a snapshot', () => {
    const state = stateOf();
    const comparison = (requestId: string, scores: [number, number], previous: [number, number] | null) =>
      state.apply({
        type: 'judgement',
        kind: 'comparison',
        requestId,
        client: null,
        shared: false,
        verdicts: [
          { armId: 'a', context: 'code', score: scores[0], previous: previous?.[0] ?? null, costUsd: 0, latencyMs: 0 },
          { armId: 'b', context: 'code', score: scores[1], previous: previous?.[1] ?? null, costUsd: 0, latencyMs: 0 },
        ],
      });
    comparison('r1', [1, 0], null);
    comparison('r2', [0, 1], null);
    comparison('r1', [0.5, 0.5], [1, 0]);
    comparison('r1', [0, 1], [0.5, 0.5]);
    const expected = { comparisons: 2, shadowPreferred: 2, primaryPreferred: 0, ties: 0 };
    expect(state.comparisons().get('b')).toEqual(expected);
    const restored = stateOf();
    restored.restore(parseLearningSnapshot(JSON.parse(JSON.stringify(state.snapshot()))));
    expect(restored.comparisons().get('b')).toEqual(expected);
    restored.reset();
    expect(restored.comparisons().size).toBe(0);
  });
});
