import { describe, expect, it } from 'vitest';
import { createRng, sampleNormal } from '../../src/router/random.js';
import { createRoutingConfidence, normalCdf } from '../../src/router/routing-confidence.js';

/**
 * The quadrature is checked against the model it integrates (independent normal utilities), so
 * the tolerances follow from its own error bound and the Monte Carlo's standard error; how far
 * the normal model is from the Beta posteriors is measured in bench/routing.bench.ts and stated in
 * docs/learning.md.
 */
describe('routing confidence', () => {
  const confidence = createRoutingConfidence();
  const bound = confidence.quadratureError;

  it('has a normal CDF accurate to 1e-7', () => {
    // Reference values of the standard normal CDF.
    const known: Array<[number, number]> = [
      [0, 0.5],
      [1, 0.8413447460685429],
      [-1.96, 0.024997895148220435],
      [2.5, 0.9937903346742238],
      [-4, 3.167124183311992e-5],
    ];
    for (const [z, p] of known) expect(Math.abs(normalCdf(z) - p)).toBeLessThan(1e-7);
  });

  it('matches the closed form for two arms within its quadrature bound', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 500; trial++) {
      const means = Float64Array.from([rng(), rng()]);
      // Widths from 0.001 to 0.3, so one arm is often far narrower than the other (a step).
      const sds = Float64Array.from([0.001 + 0.3 * rng() ** 2, 0.001 + 0.3 * rng() ** 2]);
      const exact = normalCdf((means[0]! - means[1]!) / Math.hypot(sds[0]!, sds[1]!));
      expect(Math.abs(confidence.probabilityBest(0, 2, means, sds) - exact)).toBeLessThanOrEqual(bound + 1e-6);
    }
  });

  it('matches a Monte Carlo of the normal model for many arms, and the probabilities sum to 1', () => {
    const rng = createRng(12);
    const draws = 20_000;
    // Each estimate has standard error <= 0.5 / sqrt(draws) = 0.0035; 4.5 of them bound a miss at
    // ~7e-6 per comparison, ~2e-3 over the ~200 comparisons below.
    const tolerance = bound + 4.5 * (0.5 / Math.sqrt(draws));
    for (let trial = 0; trial < 20; trial++) {
      const count = 2 + Math.floor(rng() * 16);
      const means = Float64Array.from({ length: count }, () => 0.4 + 0.3 * rng());
      const sds = Float64Array.from({ length: count }, () => 0.003 + 0.2 * rng() ** 2);
      const wins = new Float64Array(count);
      for (let d = 0; d < draws; d++) {
        let best = 0;
        let bestValue = -Infinity;
        for (let j = 0; j < count; j++) {
          const value = means[j]! + sds[j]! * sampleNormal(rng);
          if (value > bestValue) {
            bestValue = value;
            best = j;
          }
        }
        wins[best]! += 1;
      }
      let total = 0;
      for (let j = 0; j < count; j++) {
        const p = confidence.probabilityBest(j, count, means, sds);
        total += p;
        expect(Math.abs(p - wins[j]! / draws)).toBeLessThanOrEqual(tolerance);
      }
      // Each term errs by at most the bound, whatever the widths.
      expect(Math.abs(total - 1)).toBeLessThanOrEqual(count * bound);
    }
  });

  it('is 1 for a lone arm and 0 for an arm certainly beaten', () => {
    expect(confidence.probabilityBest(0, 1, Float64Array.from([0.5]), Float64Array.from([0.1]))).toBe(1);
    const means = Float64Array.from([0.2, 0.9]);
    const sds = Float64Array.from([0.01, 0.01]);
    expect(confidence.probabilityBest(0, 2, means, sds)).toBe(0);
    expect(confidence.probabilityBest(1, 2, means, sds)).toBe(1);
  });
});
