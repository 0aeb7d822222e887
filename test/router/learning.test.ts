import { describe, expect, it } from 'vitest';
import { createContextualStats, GLOBAL_CONTEXT } from '../../src/router/bandit.js';
import { createRng } from '../../src/router/random.js';
import { policyFor } from './bernoulli-bandit.js';

const ARMS = ['a', 'b', 'c'];

describe('forgetting under drift (default configuration: half-life H = 5,000, sharpening k = 2 of evidence with half-life H/8)', () => {
  /**
   * Arm a (0.8) leads b (0.6) and c (0.4); at t = 5,000 a drops to 0.3, at t = 17,000 it recovers.
   *
   * Degradation bound: with a holding nearly all traffic its evidence is about H / ln 2
   * observations, and its recent evidence (half-life H/8) about H / (8 ln 2). Thompson draws count
   * the recent evidence k = 2 times, so the sampled mean weighs the two by 8/9 and 1/9; k requests
   * after the drop it is p' + (p - p') [(8/9) 2^(-k/H) + (1/9) 2^(-8k/H)]. With p = 0.8, p' = 0.3 it
   * falls below b's q = 0.6 when (8/9) x + (1/9) x^8 = 0.6, x = 2^(-k/H) ≈ 0.67: k ≈ 0.58 H ≈ 2,900
   * (exact sampling: H log2(0.5 / 0.3) ≈ 3,685). Thompson sampling starts moving traffic before that
   * (b's posterior has widened meanwhile); measured over 10 seeds, b holds 80% of a 500-request
   * window 1,900–3,800 requests after the drop. Asserted: b ≥ 80% in the 500 requests after drop + 2H.
   *
   * Recovery bound: once a is excluded its recent evidence decays with H/8, so its draws soon come
   * from its exact posterior (stale evidence counts once) and it is re-explored at the rate exact
   * Thompson sampling gives it; its evidence settles where these pulls replace what decays. After the
   * recovery, even at that constant pull rate, its mean is p'' - (p'' - p') 2^(-k/H), above q = 0.6
   * after k = H log2((0.8 - 0.3) / (0.8 - 0.6)) ≈ 1.32 H ≈ 6,600 requests; the pull rate grows as
   * the mean rises and the fresh evidence counts twice, so sooner (measured 1,300–5,100, 10 seeds).
   * Asserted: a ≥ 80% in the 500 requests after recovery + 2H. (Sharpening all evidence instead,
   * the stale record of ~900 observations held a out for more than 2H in some seeds.)
   */
  it('moves traffic off a degraded arm within the bound, and back when it recovers', () => {
    for (let run = 0; run < 4; run++) {
      const rng = createRng(500 + run);
      const policy = policyFor({}, run);
      const mean = (arm: string, t: number) =>
        arm === 'a' ? (t < 5_000 || t >= 17_000 ? 0.8 : 0.3) : arm === 'b' ? 0.6 : 0.4;
      const shareOf = (arm: string, from: number, to: number, picks: string[]) =>
        picks.slice(from, to).filter((p) => p === arm).length / (to - from);
      const picks: string[] = [];
      for (let t = 0; t < 27_500; t++) {
        const id = policy.select(ARMS, 'drift');
        policy.recordPull(id, 'drift');
        policy.update(id, 'drift', rng() < mean(id, t) ? 1 : 0, 1);
        picks.push(id);
      }
      expect(shareOf('a', 4_000, 5_000, picks)).toBeGreaterThan(0.9);
      expect(shareOf('b', 15_000, 15_500, picks)).toBeGreaterThanOrEqual(0.8);
      expect(shareOf('a', 27_000, 27_500, picks)).toBeGreaterThanOrEqual(0.8);
    }
  });

  /**
   * Stationary stream with the default forgetting: a 0.5 arm among nine at 0.4. Without
   * forgetting Thompson sampling sends ~95% of the last 2,000 of 10,000 requests to the best arm.
   * Forgetting costs re-exploration: a 0.4 arm needs ~1/gap² ≈ 100 observations to stay below the
   * leader, and keeping them against decay costs 100 · ln 2 / H ≈ 1.4% of traffic per arm, ~12%
   * for nine. Sharpening does not lower that floor much: a loser pulled rarely has little recent
   * evidence, so it is sampled from nearly its exact posterior (measured share of the best arm
   * 0.79–0.94 over 6 seeds, 0.78–0.86 with exact sampling). We require ≥ 70%, against 10% for
   * uniform play: still learning, at the price of noticing change.
   */
  it('does not wreck learning on a stationary stream', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `arm${i}`);
    for (let run = 0; run < 3; run++) {
      const rng = createRng(900 + run);
      const policy = policyFor({}, run);
      let best = 0;
      for (let t = 0; t < 10_000; t++) {
        const id = policy.select(ids, 'steady');
        policy.recordPull(id, 'steady');
        policy.update(id, 'steady', rng() < (id === 'arm0' ? 0.5 : 0.4) ? 1 : 0, 1);
        if (t >= 8_000 && id === 'arm0') best++;
      }
      expect(best / 2_000).toBeGreaterThanOrEqual(0.7);
    }
  });
});

describe('sharpened sampling', () => {
  /**
   * Draws count recent evidence (half-life R) k times and the rest once. Deterministic check with
   * H = 800, R = 100, k = 2: 100 successes in a row leave recent evidence sum_{i<100} 2^(-i/100)
   * ≈ 72.4 (full evidence ≈ 95.8), so the sharpened alpha exceeds the exact one by ≈ 72.4. After
   * 1,000 ticks without a pull the recent part is at 2^(-10) of that, < 0.1: a stale arm is sampled
   * from its exact posterior, while its full evidence still holds 95.8 · 2^(-1000/800) ≈ 40.3.
   */
  it('counts recent evidence k times and stale evidence once', () => {
    const stats = createContextualStats({
      prior: { alpha: 1, beta: 1 },
      hierarchyStrength: 0,
      halfLife: 800,
      recentHalfLife: 100,
      penalty: () => 0,
    });
    for (let i = 0; i < 100; i++) {
      stats.recordPull('x', 'c');
      stats.update('x', 'c', 1, 1);
    }
    expect(stats.posterior('x', 'c', 2).alpha - stats.posterior('x', 'c').alpha).toBeCloseTo(72.4, 0);
    for (let i = 0; i < 1_000; i++) stats.recordPull('y', 'c');
    const excess = stats.posterior('x', 'c', 2).alpha - stats.posterior('x', 'c').alpha;
    expect(excess).toBeGreaterThan(0);
    expect(excess).toBeLessThan(0.1);
    expect(stats.posterior('x', 'c').alpha - 1).toBeGreaterThan(0.4 * 95);
  });
});

describe('delayed and partial feedback', () => {
  /**
   * Only 30% of requests get feedback, each after a random delay of 0–300 requests, so feedback
   * arrives out of order; 10% of those are first scored wrongly (1 - truth) and corrected later
   * by a retraction (negative weight) plus the right score. The posterior must converge as if
   * the feedback had been immediate: arm a (0.7) against b (0.5) and c (0.4), the best arm must
   * get ≥ 85% of the last 2,000 of 8,000 requests (measured ≈ 97%), and the retracted scores
   * must leave no trace: a's observed mean is within 0.04 of 0.7 (about 4 binomial standard
   * errors for the ~1,700 scores it receives).
   */
  it('converges with sparse, late, out-of-order feedback and corrections', () => {
    const rng = createRng(77);
    const policy = policyFor({}, 11);
    const means: Record<string, number> = { a: 0.7, b: 0.5, c: 0.4 };
    const pending = new Map<number, Array<() => void>>();
    const schedule = (at: number, action: () => void) => pending.set(at, [...(pending.get(at) ?? []), action]);
    let bestLate = 0;
    for (let t = 0; t < 8_000; t++) {
      for (const action of pending.get(t) ?? []) action();
      pending.delete(t);
      const id = policy.select(ARMS, 'late');
      policy.recordPull(id, 'late');
      if (t >= 6_000 && id === 'a') bestLate++;
      if (rng() >= 0.3) continue;
      const truth = rng() < means[id]! ? 1 : 0;
      const delay = Math.floor(rng() * 300);
      if (rng() < 0.1) {
        schedule(t + delay, () => policy.update(id, 'late', 1 - truth, 1));
        schedule(t + delay + 50, () => {
          policy.update(id, 'late', 1 - truth, -1);
          policy.update(id, 'late', truth, 1);
        });
      } else {
        schedule(t + delay, () => policy.update(id, 'late', truth, 1));
      }
    }
    expect(bestLate / 2_000).toBeGreaterThanOrEqual(0.85);
    const a = policy.stats('a', 'late');
    expect(Math.abs(a.rewardSum / a.rewardWeight - 0.7)).toBeLessThan(0.04);
  });
});

describe('hierarchical contexts', () => {
  it('starts a new context from the global statistics and lets its own evidence take over', () => {
    const policy = policyFor({ halfLife: 0 }, 3);
    for (let i = 0; i < 400; i++) {
      policy.recordPull('a', 'seen');
      policy.update('a', 'seen', i % 10 < 9 ? 1 : 0, 1);
    }
    const global = policy.stats('a', GLOBAL_CONTEXT).posterior;
    const fresh = policy.stats('a', 'never-seen').posterior;
    const globalMean = global.alpha / (global.alpha + global.beta);
    expect(globalMean).toBeCloseTo(0.9, 1);
    // The new context's prior mean is the global mean, with hierarchyStrength (4) pseudo-counts.
    expect(fresh.alpha / (fresh.alpha + fresh.beta)).toBeCloseTo(globalMean, 6);
    expect(fresh.alpha + fresh.beta).toBeCloseTo(4, 6);
    // A child of a task context borrows from the task, not directly from the global context.
    for (let i = 0; i < 50; i++) {
      policy.recordPull('a', 'code');
      policy.update('a', 'code', 0, 1);
    }
    const child = policy.stats('a', 'code/short').posterior;
    expect(child.alpha / (child.alpha + child.beta)).toBeLessThan(0.2);
    expect(policy.contexts().sort()).toEqual(['code', 'seen']);
  });

  /**
   * 'a' and 'b' both score 0.9 on 'easy'; on 'hard' only 'a' has been tried and scores 0.2. 'b' has
   * never run on 'hard', but the context is harder for every arm seen so far, so its prior there is
   * shifted by the context's difficulty on the logit scale: the global pooled rate is r* = (360 + 40
   * + 1) / (600 + 2) ≈ 0.666, the one of 'hard' (40 + 4 r*) / (200 + 4) ≈ 0.209 (hierarchyStrength 4
   * pseudo-observations of r*), a logit shift of −1.33 − 0.69 = −2.02; b's global mean 181 / 202 ≈
   * 0.896 (logit 2.15) becomes logistic(0.13) ≈ 0.53, where without the shift it would stay at 0.9.
   * The computation is deterministic (halfLife 0); the bounds only allow for rounding in this comment.
   */
  it("shifts an untried arm's prior by how hard the context is for the arms tried there", () => {
    const policy = policyFor({ halfLife: 0 }, 5);
    for (let i = 0; i < 200; i++) {
      for (const arm of ['a', 'b']) {
        policy.recordPull(arm, 'easy');
        policy.update(arm, 'easy', i % 10 < 9 ? 1 : 0, 1);
      }
      policy.recordPull('a', 'hard');
      policy.update('a', 'hard', i % 10 < 2 ? 1 : 0, 1);
    }
    const mean = (p: { alpha: number; beta: number }) => p.alpha / (p.alpha + p.beta);
    const globalB = mean(policy.stats('b', GLOBAL_CONTEXT).posterior);
    const hardB = mean(policy.stats('b', 'hard').posterior);
    expect(globalB).toBeCloseTo(0.9, 1);
    expect(hardB).toBeGreaterThan(0.5);
    expect(hardB).toBeLessThan(0.56);
    // A context with no evidence of its own is not shifted.
    expect(mean(policy.stats('b', 'fresh').posterior)).toBeCloseTo(globalB, 6);
  });

  it('prices cost relative to the most expensive arm, whatever the currency scale', () => {
    for (const scale of [1, 1e-6]) {
      const policy = policyFor({ halfLife: 0 }, 4);
      policy.recordOperational('cheap', 'x', { costUsd: 0.001 * scale, latencyMs: 0 });
      policy.recordOperational('dear', 'x', { costUsd: 0.01 * scale, latencyMs: 0 });
      // Default reward.cost = 0.1: the most expensive arm pays 0.1 of quality, one ten times cheaper 0.01.
      expect(policy.penalty('dear', 'x')).toBeCloseTo(0.1, 9);
      expect(policy.penalty('cheap', 'x')).toBeCloseTo(0.01, 9);
    }
  });
});
