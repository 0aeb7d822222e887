/**
 * What the analyzer needs to know about the bandit, in a shape any policy can produce. The caller
 * builds it (typically from BanditPolicy.stats and probabilityBest) at snapshot or scrape time.
 */
export interface BanditArmView {
  readonly armId: string;
  readonly modelId: string;
  /** '*' (GLOBAL_CONTEXT) for the arm's statistics over all contexts. */
  readonly context: string;
  readonly pulls: number;
  readonly posteriorMean: number;
  readonly lower95: number;
  readonly upper95: number;
  readonly probabilityBest: number;
}

export interface BanditView {
  readonly arms: readonly BanditArmView[];
}

export const GLOBAL_VIEW_CONTEXT = '*';

export interface ContextRegret {
  readonly context: string;
  readonly bestArmId: string;
  readonly bestPosteriorMean: number;
  readonly total: number;
  readonly byArm: ReadonlyMap<string, number>;
}

export interface RegretEstimate {
  /** Per context, the global '*' entry included. */
  readonly byContext: ReadonlyMap<string, ContextRegret>;
  /** Summed over the specific contexts when there are any, else the global context's. */
  readonly total: number;
  readonly byArm: ReadonlyMap<string, number>;
}

export function groupByContext(view: BanditView): Map<string, BanditArmView[]> {
  const groups = new Map<string, BanditArmView[]>();
  for (const arm of view.arms) {
    const group = groups.get(arm.context);
    if (group) group.push(arm);
    else groups.set(arm.context, [arm]);
  }
  return groups;
}

/**
 * Posterior pseudo-regret: in each context c, sum over arms a of pulls(a, c) * (mu*(c) - mu(a, c)),
 * where mu is the posterior mean reward and mu*(c) the best arm's. It prices every past pull at
 * today's estimates, so it is an estimate of the reward given up by exploring, not a measurement.
 */
export function estimateRegret(view: BanditView): RegretEstimate {
  const byContext = new Map<string, ContextRegret>();
  for (const [context, arms] of groupByContext(view)) {
    const best = arms.reduce((a, b) => (b.posteriorMean > a.posteriorMean ? b : a));
    const byArm = new Map<string, number>();
    let total = 0;
    for (const arm of arms) {
      const regret = arm.pulls * (best.posteriorMean - arm.posteriorMean);
      byArm.set(arm.armId, regret);
      total += regret;
    }
    byContext.set(context, {
      context,
      bestArmId: best.armId,
      bestPosteriorMean: best.posteriorMean,
      total,
      byArm,
    });
  }
  const specific = [...byContext.values()].filter((c) => c.context !== GLOBAL_VIEW_CONTEXT);
  const counted = specific.length > 0 ? specific : [...byContext.values()];
  const byArm = new Map<string, number>();
  let total = 0;
  for (const context of counted) {
    total += context.total;
    for (const [armId, regret] of context.byArm) byArm.set(armId, (byArm.get(armId) ?? 0) + regret);
  }
  return { byContext, total, byArm };
}
