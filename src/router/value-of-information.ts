import { normalCdf } from './routing-confidence.js';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** ψ(z) = z·Φ(z) + φ(z): the expected positive part of a standard normal shifted by z. */
function psi(z: number): number {
  return z * normalCdf(z) + Math.exp(-0.5 * z * z) * INV_SQRT_2PI;
}

/**
 * Value per observation of learning more about one arm (knowledge gradient, KG*: Frazier & Powell's
 * m-step lookahead, normal approximation of the Beta): m more 0/1 observations move the posterior mean
 * by a change of sd σ̃_m, σ̃_m² = p(1 − p)·m / ((n + 1)(n + m + 1)); the decision improves by
 * σ̃_m·ψ(−gap/σ̃_m) when the change carries the arm past the best other (gap: the distance between them
 * in utility). KG* is the best of that divided by m over m in a doubling grid up to `maxBatch`, which
 * keeps an arm that needs many observations to overturn the order from reading as worthless (one-step
 * KG is 0 for it, and online KG with one step is inconsistent on 0/1 outcomes).
 */
export function valuePerObservation(alpha: number, beta: number, gap: number, maxBatch: number): number {
  const n = alpha + beta;
  const p = alpha / n;
  const v = p * (1 - p);
  let best = 0;
  for (let m = 1; m <= maxBatch; m *= 2) {
    const sd = Math.sqrt((v * m) / ((n + 1) * (n + m + 1)));
    if (!(sd > 0)) break;
    const value = (sd * psi(-Math.abs(gap) / sd)) / m;
    if (value > best) best = value;
  }
  return best;
}
