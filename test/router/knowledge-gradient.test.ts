import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { valuePerObservation } from '../../src/router/value-of-information.js';
import { bernoulliStreams, policyFor, runBernoulli } from './bernoulli-bandit.js';

/**
 * bandit.knowledgeGradient (opt-in): candidates ranked by posterior-mean utility plus the value of
 * information over the guessed horizon (src/router/thompson-policy.ts, value-of-information.ts).
 */
describe('knowledge-gradient selection', () => {
  it('values information more where the order is closer and the posterior wider, and little where settled', () => {
    expect(valuePerObservation(5, 5, 0.02, 64)).toBeGreaterThan(valuePerObservation(5, 5, 0.2, 64));
    expect(valuePerObservation(5, 5, 0.05, 64)).toBeGreaterThan(valuePerObservation(500, 500, 0.05, 64));
    expect(valuePerObservation(5_000, 5_000, 0.2, 64)).toBeLessThan(1e-12);
    // The batch lookahead: one observation cannot overturn a gap of 0.3 at n = 40, several can.
    expect(valuePerObservation(20, 20, 0.3, 64)).toBeGreaterThan(10 * valuePerObservation(20, 20, 0.3, 1));
  });

  /**
   * Measured (docs/learning.md, "Exploring by value of information"): 0.5 vs nine at 0.4, 4 runs,
   * horizon 8,000: regret 100 (h = 3) against exact Thompson's 128 (0.78×). The runs are seeded, so the
   * test is deterministic; asserted ≤ 1× (a 22% margin). Two arms 0.6 vs 0.5 it is 4.3×: the reason it
   * is not the default.
   */
  it('on ten stationary arms, regret no worse than exact Thompson sampling', () => {
    const means = [0.5, ...Array<number>(9).fill(0.4)];
    let kg = 0;
    let exact = 0;
    for (let run = 0; run < 4; run++) {
      const streams = bernoulliStreams(means, 8_000, createRng(1_000 + run));
      kg += runBernoulli(policyFor({ knowledgeGradient: 3 }, run), means, streams, [8_000]).atCheckpoints[0]!;
      exact += runBernoulli(policyFor({ mixture: { halfLives: [] }, sampleConcentration: 1, halfLife: 0 }, run), means, streams, [8_000]).atCheckpoints[0]!;
    }
    expect(kg).toBeLessThanOrEqual(exact);
  });
});
