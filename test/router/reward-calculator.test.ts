import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { createRewardCalculator, type RouteMetrics } from '../../src/router/reward-calculator.js';

const metrics = (overrides: Partial<RouteMetrics>): RouteMetrics => ({
  latencyMs: 100,
  ttftMs: 20,
  promptTokens: 10,
  completionTokens: 10,
  costUsd: 0.001,
  error: false,
  cached: false,
  ...overrides,
});

const calculator = (reward: Record<string, unknown>) =>
  createRewardCalculator(parseConfig({ ...defaultConfig, reward }).reward);

describe('reward calculator', () => {
  it('turns only errors into quality evidence at completion', () => {
    const reward = calculator({});
    expect(reward.operational(metrics({}))).toBeNull();
    expect(reward.operational(metrics({ cached: true, error: true }))).toBeNull();
    expect(reward.operational(metrics({ error: true }))).toEqual({ reward: 0, weight: 1 });
    expect(reward.quality(0.75)).toEqual({ reward: 0.75, weight: 1 });
    expect(() => reward.quality(1.5)).toThrow(RangeError);
    expect(reward.combined({ reward: 0, weight: 1 }, { reward: 1, weight: 3 })).toBe(0.75);
    expect(reward.combined(null, null)).toBeNull();
  });

  it('prices cost and latency against observed references unless fixed ones are configured', () => {
    const observed = { costUsd: 0.01, latencyMs: 2_000 };
    const adaptive = calculator({ cost: 0.2, latency: 0.05 });
    expect(adaptive.penalty({ costUsd: 0.005, latencyMs: 1_000 }, observed)).toBeCloseTo(0.1 + 0.025, 12);
    expect(adaptive.penalty({ costUsd: 0.005, latencyMs: 1_000 }, { costUsd: 0, latencyMs: 0 })).toBe(0);
    // A fixed reference makes the weight a dollar price: one unit of quality is worth 0.002 / 0.2 = $0.01.
    const fixed = calculator({ cost: 0.2, latency: 0, costReferenceUsd: 0.002 });
    expect(fixed.penalty({ costUsd: 0.01, latencyMs: 5_000 }, observed)).toBeCloseTo(1, 12);
  });
});
