import { normalCdf } from './routing-confidence.js';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Working arrays of {@link informationDirectedChoice}, grown when a decision has more candidates (no allocation per call). */
export interface IdsScratch {
  /** Per candidate: mean utility (quality mean − penalty), the quality's variance, its mean and posterior count (α + β). */
  mean: Float64Array;
  variance: Float64Array;
  quality: Float64Array;
  count: Float64Array;
  gain: Float64Array;
}

export function createIdsScratch(size = 16): IdsScratch {
  return { mean: new Float64Array(size), variance: new Float64Array(size), quality: new Float64Array(size), count: new Float64Array(size), gain: new Float64Array(size) };
}

export function ensureIdsScratch(scratch: IdsScratch, size: number): void {
  if (scratch.mean.length >= size) return;
  scratch.mean = new Float64Array(size * 2);
  scratch.variance = new Float64Array(size * 2);
  scratch.quality = new Float64Array(size * 2);
  scratch.count = new Float64Array(size * 2);
  scratch.gain = new Float64Array(size * 2);
}

/** Keeps the arcsine's argument inside (0, 1), where its derivative is finite. */
const EDGE = 1e-9;


/** The information ratio (π·Δ)² / (π·v) of playing `b` with probability q and `a` otherwise. */
function ratio(da: number, db: number, va: number, vb: number, q: number): number {
  const regret = da + q * (db - da);
  const gain = va + q * (vb - va);
  if (!(gain > 0)) return regret > 0 ? Infinity : 0;
  return (regret * regret) / gain;
}

/** What the choice found: the arm played, and the two the randomization was between (for tests and explanations). */
export interface IdsDecision {
  /** Index of the arm to play. */
  chosen: number;
  /** The greedy arm (highest mean utility) and the challenger it is mixed with (-1: none). */
  leader: number;
  challenger: number;
  /** Probability of playing the challenger. */
  q: number;
  /** The minimal information ratio. */
  ratio: number;
}

/**
 * Variance-based information-directed sampling (Russo & Van Roy, "Learning to Optimize via
 * Information-Directed Sampling", 2018, section 6), in utility units: each arm's utility (quality −
 * cost/latency penalty) is N(mean[i], variance[i]) under the posterior; play the distribution over at
 * most two arms that minimises (expected regret)² / (information gain about which arm is best), where
 * the gain of an arm is Var(E[its utility | the optimal arm]). Because the regret counts the penalty,
 * a dear arm is explored only as far as what it would teach is worth its expected cost in regret.
 *
 * Computed in closed form, O(arms), instead of from Thompson samples: the exact quantities need the
 * joint law of the maximum (M draws per arm, O(M·arms) with M in the hundreds for stable estimates,
 * far over the routing budget). Approximation: each challenger a meets only the leader ℓ (highest
 * mean), as in a two-arm problem, where everything is Gaussian and exact: with d = mean_a − mean_ℓ ≤ 0,
 * s² = var_a + var_ℓ and z = d/s, P(a best) = Φ(z), E[(θ_a − θ_ℓ)⁺] = s·ψ(z) and
 * v_a = var_a²·φ(z)² / (s²·Φ(z)·(1 − Φ(z))) (the conditional means given which of the two is best).
 * The leader's regret Δ_ℓ = E[max] − mean_ℓ is taken as the sum of the challengers' E[(θ_a − θ_ℓ)⁺]
 * (exact when at most one challenger can overtake at a time, an overestimate when many are tied,
 * which errs toward exploring), its gain as the sum of its pairwise gains; Δ_a = Δ_ℓ + (mean_ℓ −
 * mean_a). Tails: a challenger with few observations and a low mean has a right-skewed Beta whose
 * chance to overtake the moment-matched normal underestimates several-fold (Beta(1, 5) above 0.5:
 * 0.031, the normal 0.009), and IDS's mixing probability is about Δ_ℓ/gap, so it explored such an arm
 * at a seventh of the right rate (one stationary two-arm run stuck 1,650 pulls on the worse arm). So z
 * is computed on the arcsine scale, the binomial's variance-stabilising transform (asin√θ ≈ normal
 * with variance 1/(4(α+β+1)); the same case: 0.037), against the quality the challenger needs to draw
 * level, with the leader's variance carried over by the transform's slope; s is then the
 * quality-scale spread that gives that z, so P, Δ and v stay consistent with each other.
 * The best pair (ℓ, a) and its mixing probability q follow from the two-arm minimisation
 * (Russo & Van Roy, Proposition 6: the minimum is at q* = Δ_ℓ/(Δ_a − Δ_ℓ) − 2v_ℓ/(v_a − v_ℓ), clipped).
 * `u` is one uniform draw in [0, 1): the only randomness.
 */
export function informationDirectedChoice(n: number, scratch: IdsScratch, u: number, out: IdsDecision): IdsDecision {
  const { mean, variance, quality, count, gain } = scratch;
  let leader = 0;
  for (let i = 1; i < n; i++) if (mean[i]! > mean[leader]!) leader = i;
  const vl = variance[leader]!;
  let leaderRegret = 0;
  let leaderGain = 0;
  for (let i = 0; i < n; i++) {
    gain[i] = 0;
    if (i === leader) continue;
    const vi = variance[i]!;
    const s2 = vi + vl;
    if (!(s2 > 0)) continue;
    const d = mean[i]! - mean[leader]!;
    let s = Math.sqrt(s2);
    let z = d / s;
    if (d < 0) {
      // The quality the challenger needs to draw level (its penalty added to the leader's utility).
      const c = mean[leader]! + quality[i]! - mean[i]!;
      if (c >= 1) continue;
      const cc = Math.max(EDGE, Math.min(1 - EDGE, c));
      const slope = 0.5 / Math.sqrt(cc * (1 - cc));
      const spread = 1 / (4 * (count[i]! + 1)) + vl * slope * slope;
      const za = (Math.asin(Math.sqrt(Math.max(0, quality[i]!))) - Math.asin(Math.sqrt(cc))) / Math.sqrt(spread);
      if (za < 0) {
        z = za;
        s = d / za;
      }
    }
    const cdf = normalCdf(z);
    const pdf = Math.exp(-0.5 * z * z) * INV_SQRT_2PI;
    leaderRegret += s * (z * cdf + pdf);
    const spread = cdf * (1 - cdf);
    if (!(spread > 0)) continue;
    // The conditional means given which arm is best move the difference by s·φ/Φ; each arm's share of
    // that move is its share of the difference's variance.
    const h = (s * s * pdf * pdf) / (s2 * s2 * spread);
    gain[i] = vi * vi * h;
    leaderGain += vl * vl * h;
  }
  out.leader = leader;
  out.challenger = -1;
  out.q = 0;
  out.ratio = ratio(leaderRegret, leaderRegret, leaderGain, leaderGain, 0);
  for (let i = 0; i < n; i++) {
    if (i === leader) continue;
    const da = leaderRegret;
    const db = leaderRegret + mean[leader]! - mean[i]!;
    const va = leaderGain;
    const vb = gain[i]!;
    let q = 1;
    let best = ratio(da, db, va, vb, 1);
    if (db !== da && vb !== va) {
      const interior = da / (db - da) - (2 * va) / (vb - va);
      if (interior > 0 && interior < 1) {
        const r = ratio(da, db, va, vb, interior);
        if (r < best) {
          best = r;
          q = interior;
        }
      }
    }
    if (best < out.ratio) {
      out.ratio = best;
      out.challenger = i;
      out.q = q;
    }
  }
  out.chosen = out.challenger >= 0 && u < out.q ? out.challenger : leader;
  return out;
}
