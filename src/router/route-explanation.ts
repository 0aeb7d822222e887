import type { RoutingConfidence } from './routing-confidence.js';

/**
 * Why a request went where it went: the candidates the router weighed, each one's sampled and mean
 * utility and expected cost, and the chosen arm's selection probability. Built only for requests
 * that ask for it (RouteRequest.explain): the policy then reports its draws into a
 * {@link DecisionTrace}; every other request pays nothing (the policy gets no trace).
 */

/** How the serving arm was picked. */
export type RouteSelection = 'policy' | 'pinned' | 'cached' | 'failover';

export interface CandidateExplanation {
  readonly armId: string;
  /**
   * The utility the policy scored the arm with in this decision (Thompson: the quality drawn from
   * its posterior minus its penalty); null when no draw was made (pinned, cached, failover).
   */
  readonly sampledUtility: number | null;
  /** The mean of the quality distribution the arm was scored from, minus its penalty. */
  readonly meanUtility: number;
  /** The arm's decayed mean cost of a call in the context; null before any call was observed. */
  readonly expectedCostUsd: number | null;
  readonly chosen: boolean;
}

export interface RouteExplanation {
  readonly selection: RouteSelection;
  readonly policy: string;
  /** Highest sampled (else mean) utility first. */
  readonly candidates: readonly CandidateExplanation[];
  /**
   * Probability that the policy picks the chosen arm given these distributions (for Thompson
   * sampling: that its draw is the highest), by the routing-confidence normal approximation; null
   * when the policy did not pick it (pinned, cached, failover).
   */
  readonly selectionProbability: number | null;
}

/**
 * Where a policy reports the score of each candidate of one decision: the Beta it drew the quality
 * from, the quality it drew (a UCB index, a posterior mean for policies that do not draw) and the
 * penalty it subtracted. Passed to select() only for requests that asked for an explanation.
 */
export interface DecisionTrace {
  scored(armId: string, alpha: number, beta: number, quality: number, penalty: number): void;
}

export interface RecordedScore {
  readonly armId: string;
  readonly alpha: number;
  readonly beta: number;
  /** Null when the arm was read, not scored (no draw). */
  readonly quality: number | null;
  readonly penalty: number;
}

/** A trace that keeps what the policy reported, in order. */
export function createDecisionTrace(): DecisionTrace & { readonly scores: RecordedScore[] } {
  const scores: RecordedScore[] = [];
  return {
    scores,
    scored(armId, alpha, beta, quality, penalty) {
      scores.push({ armId, alpha, beta, quality, penalty });
    },
  };
}

/**
 * The explanation of a decision from the scores of its candidates. `expectedCostOf` gives an arm's
 * mean cost (null when unknown); `confidence` computes the selection probability.
 */
export function explainDecision(input: {
  readonly selection: RouteSelection;
  readonly policy: string;
  readonly chosen: string;
  readonly scores: readonly RecordedScore[];
  readonly expectedCostOf: (armId: string) => number | null;
  readonly confidence: RoutingConfidence;
}): RouteExplanation {
  const { scores } = input;
  const candidates = scores.map((s) => ({
    armId: s.armId,
    sampledUtility: s.quality === null ? null : s.quality - s.penalty,
    meanUtility: s.alpha / (s.alpha + s.beta) - s.penalty,
    expectedCostUsd: input.expectedCostOf(s.armId),
    chosen: s.armId === input.chosen,
  }));
  let selectionProbability: number | null = null;
  const chosen = scores.findIndex((s) => s.armId === input.chosen);
  if (input.selection === 'policy' && chosen >= 0) {
    const means = new Float64Array(scores.length);
    const sds = new Float64Array(scores.length);
    scores.forEach((s, i) => {
      const n = s.alpha + s.beta;
      means[i] = candidates[i]!.meanUtility;
      sds[i] = Math.sqrt((s.alpha * s.beta) / (n * n * (n + 1)));
    });
    selectionProbability = input.confidence.probabilityBest(chosen, scores.length, means, sds);
  }
  const rank = (c: CandidateExplanation) => c.sampledUtility ?? c.meanUtility;
  candidates.sort((a, b) => rank(b) - rank(a));
  return { selection: input.selection, policy: input.policy, candidates, selectionProbability };
}
