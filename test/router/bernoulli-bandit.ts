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

/** The rotating stream's arm means: arm i has ROTATION[(i - phase) mod 3], the phase moving every 1,000 requests. */
export const ROTATION = [0.85, 0.55, 0.25] as const;
const ROTATING_ARMS = ['a0', 'a1', 'a2'];

/**
 * Mean reward over 5,000 requests of three arms whose means rotate every 1,000. Rewards come from one
 * uniform stream per seed (the t-th request's reward is u_t < mean), so every policy meets the same luck.
 */
export function rotatingReward(overrides: Record<string, unknown>, seed: number): number {
  const policy = policyFor(overrides, seed);
  const rng = createRng(100 + seed);
  let reward = 0;
  for (let t = 0; t < 5_000; t++) {
    const phase = Math.floor(t / 1_000);
    const id = policy.select(ROTATING_ARMS, 'rotating');
    const arm = ROTATING_ARMS.indexOf(id);
    const r = rng() < ROTATION[(arm - phase + 300) % 3]! ? 1 : 0;
    policy.recordPull(id, 'rotating');
    policy.update(id, 'rotating', r, 1);
    reward += r;
  }
  return reward / 5_000;
}
