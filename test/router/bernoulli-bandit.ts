import { parseConfig } from '../../src/config/load-config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import type { BanditConfig } from '../../src/config/schema.js';
import type { BanditPolicy, ContextualStats } from '../../src/router/bandit.js';
import { createPolicy, createStats } from '../../src/router/create-policy.js';
import { createRng, type Rng } from '../../src/router/random.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

/** Helpers for simulated Bernoulli bandits shared by the statistical tests (not a test file itself). */

export function banditConfig(overrides: Record<string, unknown> = {}): BanditConfig {
  return parseConfig({ ...defaultConfig, bandit: overrides }).bandit;
}

/** A policy with the statistics it reads: the simulations teach the statistics directly. */
export type SimulatedBandit = BanditPolicy & ContextualStats;

export function policyFor(overrides: Record<string, unknown>, seed: number): SimulatedBandit {
  const config = parseConfig({ ...defaultConfig, bandit: overrides });
  const stats = createStats(config.bandit, createRewardCalculator(config.reward));
  const policy = createPolicy(config.bandit, createRng(seed), stats);
  return { ...stats, name: policy.name, select: policy.select };
}

/**
 * Rewards fixed in advance per (arm, pull index): every policy run on the same streams sees the
 * same outcome for its k-th pull of an arm (common random numbers), so differences in regret come
 * from the policies, not from luck.
 */
export function bernoulliStreams(means: readonly number[], length: number, rng: Rng): Uint8Array[] {
  return means.map((p) => Uint8Array.from({ length }, () => (rng() < p ? 1 : 0)));
}

export interface RegretTrace {
  /** Cumulative pseudo-regret (sum of gaps of the arms pulled) after each checkpoint. */
  readonly atCheckpoints: number[];
}

export function runBernoulli(
  policy: SimulatedBandit,
  means: readonly number[],
  streams: readonly Uint8Array[],
  checkpoints: readonly number[],
  context = 'test',
): RegretTrace {
  const ids = means.map((_, i) => `arm${i}`);
  const best = Math.max(...means);
  const pulls = means.map(() => 0);
  const atCheckpoints: number[] = [];
  let regret = 0;
  const horizon = checkpoints[checkpoints.length - 1]!;
  for (let t = 1; t <= horizon; t++) {
    const id = policy.select(ids, context);
    const arm = ids.indexOf(id);
    policy.recordPull(id, context);
    policy.update(id, context, streams[arm]![pulls[arm]!]!, 1);
    pulls[arm]! += 1;
    regret += best - means[arm]!;
    if (checkpoints.includes(t)) atCheckpoints.push(regret);
  }
  return { atCheckpoints };
}
