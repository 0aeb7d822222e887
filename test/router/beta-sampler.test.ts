import { describe, expect, it } from 'vitest';
import { betaCdf } from '../../src/router/beta-distribution.js';
import { createRng, sampleBeta } from '../../src/router/random.js';

/**
 * One-sample Kolmogorov–Smirnov test of the Beta sampler against betaCdf.
 *
 * Tolerance: for n i.i.d. draws from the hypothesised distribution, P(sqrt(n) * D_n > 1.949) ≈
 * 0.001 (Kolmogorov distribution). With n = 4000 the critical value is 1.949 / sqrt(4000) ≈ 0.0308:
 * a correct sampler fails a given seed with probability 0.1%, and the seed is fixed, so the test
 * is deterministic. A sampler with a mean off by 0.02 on Beta(2, 5) (sd 0.16) would give
 * D ≈ 0.05 and fail.
 */
const N = 4_000;
const CRITICAL = 1.949 / Math.sqrt(N);

function ksStatistic(samples: number[], cdf: (x: number) => number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  let d = 0;
  sorted.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / sorted.length - f, f - i / sorted.length);
  });
  return d;
}

describe('sampleBeta', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [0.5, 0.5],
    [2, 5],
    [0.2, 3],
    [30, 10],
    [400, 600],
  ];
  it.each(shapes)('Beta(%d, %d) passes Kolmogorov–Smirnov against betaCdf', (alpha, beta) => {
    const rng = createRng(12_345 + alpha * 7 + beta);
    const samples = Array.from({ length: N }, () => sampleBeta(rng, alpha, beta));
    expect(samples.every((x) => x >= 0 && x <= 1)).toBe(true);
    expect(ksStatistic(samples, (x) => betaCdf(x, alpha, beta))).toBeLessThan(CRITICAL);
  });

  it('detects a wrong distribution (the test has power)', () => {
    const rng = createRng(7);
    const samples = Array.from({ length: N }, () => sampleBeta(rng, 2, 5));
    expect(ksStatistic(samples, (x) => betaCdf(x, 2.4, 5))).toBeGreaterThan(CRITICAL);
  });
});
