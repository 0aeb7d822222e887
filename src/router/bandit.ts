import { sampleBeta, type Rng } from './random.js';

/**
 * Bandit policies. A policy keeps a Beta posterior per (arm, context) over a reward in [0, 1]:
 * a reward r with weight w adds w * r to alpha and w * (1 - r) to beta. A negative weight retracts
 * an earlier contribution, which is how feedback that is submitted twice replaces itself.
 */

export const GLOBAL_CONTEXT = '*';

export interface Posterior {
  readonly alpha: number;
  readonly beta: number;
}

export interface ArmStats {
  readonly pulls: number;
  /** Sum of weights of rewards received (operational and feedback parts). */
  readonly rewardWeight: number;
  /** Weighted sum of rewards received; rewardSum / rewardWeight is the observed mean. */
  readonly rewardSum: number;
  readonly posterior: Posterior;
}

export interface BanditPolicy {
  readonly name: string;
  /** Picks one of `candidates` (non-empty) for a request in `context`. */
  select(candidates: readonly string[], context: string): string;
  /** Counts a pull; rewards arrive separately and possibly much later. */
  recordPull(armId: string, context: string): void;
  update(armId: string, context: string, reward: number, weight: number): void;
  /** Statistics of one arm in one context; {@link GLOBAL_CONTEXT} aggregates all contexts. */
  stats(armId: string, context?: string): ArmStats;
  /**
   * Posterior probability that each candidate is the best in `context`, estimated by drawing
   * `draws` joint samples from the posteriors.
   */
  probabilityBest(candidates: readonly string[], context: string, draws?: number): Map<string, number>;
  /** Contexts that have received pulls, {@link GLOBAL_CONTEXT} excluded. */
  contexts(): string[];
}

export interface ThompsonOptions {
  readonly rng: Rng;
  /** Beta prior of every arm. Beta(1, 1) is uniform. */
  readonly prior?: Posterior;
}

interface MutableStats {
  pulls: number;
  rewardWeight: number;
  rewardSum: number;
  alpha: number;
  beta: number;
}

/** Per-context Beta statistics shared by every policy implementation. */
export function createStatsTable(prior: Posterior) {
  const table = new Map<string, Map<string, MutableStats>>();

  const entry = (armId: string, context: string): MutableStats => {
    let byArm = table.get(context);
    if (!byArm) {
      byArm = new Map();
      table.set(context, byArm);
    }
    let stats = byArm.get(armId);
    if (!stats) {
      stats = { pulls: 0, rewardWeight: 0, rewardSum: 0, alpha: prior.alpha, beta: prior.beta };
      byArm.set(armId, stats);
    }
    return stats;
  };

  const applyReward = (stats: MutableStats, reward: number, weight: number): void => {
    stats.rewardWeight = Math.max(0, stats.rewardWeight + weight);
    stats.rewardSum = Math.max(0, stats.rewardSum + weight * reward);
    // A retraction can never take a posterior below its prior.
    stats.alpha = Math.max(prior.alpha, stats.alpha + weight * reward);
    stats.beta = Math.max(prior.beta, stats.beta + weight * (1 - reward));
  };

  return {
    entry,
    recordPull(armId: string, context: string): void {
      entry(armId, context).pulls += 1;
      if (context !== GLOBAL_CONTEXT) entry(armId, GLOBAL_CONTEXT).pulls += 1;
    },
    update(armId: string, context: string, reward: number, weight: number): void {
      if (!(reward >= 0 && reward <= 1)) throw new RangeError(`reward must be in [0, 1], got ${reward}`);
      if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
      applyReward(entry(armId, context), reward, weight);
      if (context !== GLOBAL_CONTEXT) applyReward(entry(armId, GLOBAL_CONTEXT), reward, weight);
    },
    stats(armId: string, context: string = GLOBAL_CONTEXT): ArmStats {
      const s = table.get(context)?.get(armId);
      if (!s) return { pulls: 0, rewardWeight: 0, rewardSum: 0, posterior: { ...prior } };
      return {
        pulls: s.pulls,
        rewardWeight: s.rewardWeight,
        rewardSum: s.rewardSum,
        posterior: { alpha: s.alpha, beta: s.beta },
      };
    },
    contexts(): string[] {
      return [...table.keys()].filter((c) => c !== GLOBAL_CONTEXT);
    },
  };
}

export function estimateProbabilityBest(
  rng: Rng,
  posteriors: ReadonlyMap<string, Posterior>,
  draws: number,
): Map<string, number> {
  const ids = [...posteriors.keys()];
  const wins = new Map<string, number>(ids.map((id) => [id, 0]));
  if (ids.length === 1) return new Map([[ids[0]!, 1]]);
  for (let i = 0; i < draws; i++) {
    let best = '';
    let bestValue = -1;
    for (const id of ids) {
      const p = posteriors.get(id)!;
      const value = sampleBeta(rng, p.alpha, p.beta);
      if (value > bestValue) {
        bestValue = value;
        best = id;
      }
    }
    wins.set(best, wins.get(best)! + 1);
  }
  for (const id of ids) wins.set(id, wins.get(id)! / draws);
  return wins;
}

export function createThompsonPolicy(options: ThompsonOptions): BanditPolicy {
  const { rng } = options;
  const prior = options.prior ?? { alpha: 1, beta: 1 };
  const table = createStatsTable(prior);

  const posteriorsOf = (candidates: readonly string[], context: string) =>
    new Map(candidates.map((id) => [id, table.stats(id, context).posterior]));

  return {
    name: 'thompson',
    select(candidates, context) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      let best = candidates[0]!;
      let bestValue = -1;
      for (const id of candidates) {
        const p = table.stats(id, context).posterior;
        const value = sampleBeta(rng, p.alpha, p.beta);
        if (value > bestValue) {
          bestValue = value;
          best = id;
        }
      }
      return best;
    },
    recordPull: table.recordPull,
    update: table.update,
    stats: table.stats,
    probabilityBest(candidates, context, draws = 256) {
      return estimateProbabilityBest(rng, posteriorsOf(candidates, context), draws);
    },
    contexts: table.contexts,
  };
}
