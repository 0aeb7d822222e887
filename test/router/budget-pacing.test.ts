import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { createPolicy, createStats } from '../../src/router/create-policy.js';
import { createRng } from '../../src/router/random.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

/**
 * Budget pacing (reward.budgetShare, src/router/reward-calculator.ts): the router spends about the
 * configured share of the dearest arm's cost per call, whatever the luck of its first outcomes.
 * Two arms: "dear" (quality `dearQuality`, cost 10) and "cheap" (cost 1); at the default cost weight
 * 0.1 the dear arm is worth its price when it is better by more than 0.09.
 */
function spendShare(reward: Record<string, unknown>, seed: number, dearQuality: number, cheapQuality: number): number {
  const config = parseConfig({ ...defaultConfig, reward });
  const stats = createStats(config.bandit, createRewardCalculator(config.reward));
  const policy = createPolicy(config.bandit, createRng(seed), stats);
  const outcomes = createRng(1_000 + seed);
  const arms = { dear: { quality: dearQuality, cost: 10 }, cheap: { quality: cheapQuality, cost: 1 } };
  let spent = 0;
  const requests = 3_000;
  for (let t = 0; t < requests; t++) {
    const id = policy.select(['dear', 'cheap'], 'task') as keyof typeof arms;
    stats.recordPull(id, 'task');
    stats.recordOperational(id, 'task', { costUsd: arms[id].cost, latencyMs: 0 });
    stats.update(id, 'task', outcomes() < arms[id].quality ? 1 : 0, 1);
    spent += arms[id].cost;
  }
  return spent / (requests * arms.dear.cost);
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const shares = (reward: Record<string, unknown>, dear: number, cheap: number) => SEEDS.map((seed) => spendShare(reward, seed, dear, cheap));

describe('budget pacing', () => {
  /**
   * Unpaced, the better dear arm takes nearly all traffic (0.9 − 0.1 against 0.6 − 0.01; measured
   * 0.89–1.00 over 20 seeds); with a budget of 0.4 the price rises until the router spends the budget
   * (measured 0.421–0.424: the controller's integral leaks with the half-life, so a little above).
   * Asserted: every seed within 0.05 of the budget, sd over seeds ≤ 0.01.
   */
  it('spends the budget share, with a small spread over seeds', () => {
    const unpaced = shares({}, 0.9, 0.6);
    expect(Math.min(...unpaced)).toBeGreaterThan(0.85);
    const paced = shares({ budgetShare: 0.4 }, 0.9, 0.6);
    for (const share of paced) expect(Math.abs(share - 0.4)).toBeLessThan(0.05);
    const mean = paced.reduce((s, v) => s + v, 0) / paced.length;
    const sd = Math.sqrt(paced.reduce((s, v) => s + (v - mean) ** 2, 0) / (paced.length - 1));
    expect(sd).toBeLessThanOrEqual(0.01);
  });

  /**
   * Below the budget the cost weight falls, but a cheaper arm that is better stays better at any
   * price: pacing never buys the dear arm to fill the budget when it brings nothing (its share stays
   * what exploring a worse arm costs: measured 0.100–0.112 against 0.100–0.111 unpaced, where 0.1 is
   * the cheap arm's own price; the dear arm's share of requests is (share − 0.1) / 0.9 ≤ 1.4%).
   */
  it('does not buy a worse dear arm to fill an unspent budget', () => {
    for (const share of shares({ budgetShare: 0.5 }, 0.6, 0.9)) expect(share).toBeLessThan(0.1 + 0.9 * 0.03);
  });
});
