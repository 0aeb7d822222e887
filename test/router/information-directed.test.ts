import { describe, expect, it } from 'vitest';
import type { ArmReading, PolicyStats } from '../../src/router/bandit.js';
import { createIdsScratch, informationDirectedChoice, type IdsDecision } from '../../src/router/information-directed.js';
import { createRng } from '../../src/router/random.js';
import { createThompsonPolicy } from '../../src/router/thompson-policy.js';
import { bernoulliStreams, policyFor, rotatingReward, runBernoulli } from './bernoulli-bandit.js';

/**
 * bandit.informationDirected (opt-in): variance-based information-directed sampling in utility units
 * (src/router/information-directed.ts, wired in thompson-policy.ts and create-policy.ts).
 */

/** One decision over fixed posteriors: [alpha, beta, penalty] per arm. */
function decide(arms: ReadonlyArray<readonly [number, number, number]>, u = 0.5): IdsDecision {
  const scratch = createIdsScratch();
  arms.forEach(([alpha, beta, penalty], i) => {
    const n = alpha + beta;
    const p = alpha / n;
    scratch.mean[i] = p - penalty;
    scratch.variance[i] = (p * (1 - p)) / (n + 1);
    scratch.quality[i] = p;
    scratch.count[i] = n;
  });
  return informationDirectedChoice(arms.length, scratch, u, { chosen: 0, leader: 0, challenger: -1, q: 0, ratio: 0 });
}

const TEXTBOOK = { mixture: { halfLives: [] }, sampleConcentration: 1, halfLife: 0 };

describe('information-directed sampling', () => {
  it('explores a challenger less the dearer it is, and not at all when its price leaves it no chance', () => {
    const leader = [60, 40, 0] as const;
    const free = decide([leader, [3, 3, 0]]);
    const dear = decide([leader, [3, 3, 0.15]]);
    expect(free.leader).toBe(0);
    expect(free.challenger).toBe(1);
    expect(free.q).toBeGreaterThan(dear.q);
    expect(dear.q).toBeGreaterThan(0);
    // Even a perfect quality minus 0.5 is below the leader's 0.6: nothing to learn that could change the decision.
    const hopeless = decide([leader, [3, 3, 0.5]], 0);
    expect(hopeless.q).toBe(0);
    expect(hopeless.chosen).toBe(0);
    // Settled statistics: the leader alone.
    expect(decide([[6_000, 4_000, 0], [5_000, 5_000, 0]], 0).chosen).toBe(0);
  });

  it('mixes at most two arms: the leader and the one challenger with the lowest information ratio', () => {
    const d = decide([[40, 60, 0], [60, 40, 0], [2, 3, 0], [50, 50, 0.3]]);
    expect(d.leader).toBe(1);
    expect(d.challenger).toBe(2);
    expect(d.q).toBeGreaterThan(0);
    expect(d.q).toBeLessThanOrEqual(1);
    expect(decide([[40, 60, 0], [60, 40, 0], [2, 3, 0], [50, 50, 0.3]], d.q / 2).chosen).toBe(2);
    expect(decide([[40, 60, 0], [60, 40, 0], [2, 3, 0], [50, 50, 0.3]], (1 + d.q) / 2).chosen).toBe(1);
  });

  /**
   * Through the policy, with the statistics held fixed: the challenger's share of N = 4,000 decisions
   * is a binomial with the decision's q (one uniform per decision). Tolerance 4·√(q(1−q)/N), i.e. 4
   * standard errors (a correct policy fails on a random seed with probability 6e-5; the seed is fixed).
   */
  it('plays the challenger with the probability the minimisation gives', () => {
    const posteriors: Record<string, ArmReading> = {
      leader: { alpha: 30, beta: 20, penalty: 0, evidence: 50 },
      challenger: { alpha: 2, beta: 2, penalty: 0.05, evidence: 4 },
      weak: { alpha: 5, beta: 45, penalty: 0, evidence: 50 },
    };
    const stats: PolicyStats = { read: (id: string) => posteriors[id]! } as unknown as PolicyStats;
    const policy = createThompsonPolicy(createRng(7), stats, { concentration: 2, informationDirected: true });
    const { q, challenger } = decide([
      [30, 20, 0],
      [2, 2, 0.05],
      [5, 45, 0],
    ]);
    expect(challenger).toBe(1);
    const n = 4_000;
    let played = 0;
    for (let i = 0; i < n; i++) if (policy.select(['leader', 'challenger', 'weak'], 'c') === 'challenger') played++;
    expect(Math.abs(played / n - q)).toBeLessThanOrEqual(4 * Math.sqrt((q * (1 - q)) / n));
  });

  /**
   * The default configuration with informationDirected on against textbook Thompson sampling, the
   * loops and seeds of drift-mixture.test.ts (common random numbers, horizon 8,000). Measured: 0.6 vs
   * 0.5, 10 runs: 23.1 against 16.2 (1.42×; the default's Thompson draws 1.41×); 0.5 vs nine at 0.4,
   * 4 runs: 102.3 against 128.3 (0.80×). Asserted: ≤ 1.5× (the bound) and, on ten arms, ≤ 1×.
   * Without the arcsine tail correction the two-arm figure was 1.77× (one run stuck 1,650 pulls on the
   * worse arm): this test is what guards it. Deterministic (fixed seeds); the margins say how much room
   * a change has.
   */
  it('keeps stationary regret within 1.5 times exact Thompson sampling (and below it on ten arms)', () => {
    for (const [means, runs, bound] of [
      [[0.6, 0.5], 10, 1.5],
      [[0.5, ...Array<number>(9).fill(0.4)], 4, 1],
    ] as const) {
      let ids = 0;
      let exact = 0;
      for (let run = 0; run < runs; run++) {
        const streams = bernoulliStreams(means, 8_000, createRng(1_000 + run));
        ids += runBernoulli(policyFor({ informationDirected: true }, run), means, streams, [8_000]).atCheckpoints[0]!;
        exact += runBernoulli(policyFor(TEXTBOOK, run), means, streams, [8_000]).atCheckpoints[0]!;
      }
      expect(ids).toBeLessThanOrEqual(bound * exact);
    }
  });

  /**
   * The rotating stream of drift-mixture.test.ts, same 6 seeds: measured 0.791 against the best fixed
   * memory's 0.817 (96.8%). Asserted ≥ 96% (the bound): the ratio of the 6-seed means has sd ≈
   * 0.005 (drift-mixture.test.ts), so the margin is about 1.6 of those.
   */
  it('follows a best arm that changes every 1,000 requests within 4% of the best memory chosen in hindsight', () => {
    const seeds = [0, 1, 2, 3, 4, 5];
    const mean = (overrides: Record<string, unknown>) => seeds.reduce((sum, seed) => sum + rotatingReward(overrides, seed), 0) / seeds.length;
    const bestFixed = Math.max(...[50, 100, 200].map((halfLife) => mean({ mixture: { halfLives: [] }, halfLife })));
    expect(mean({ informationDirected: true })).toBeGreaterThanOrEqual(0.96 * bestFixed);
  });
});
