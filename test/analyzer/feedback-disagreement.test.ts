import { describe, expect, it } from 'vitest';
import { createFeedbackDisagreement, fisherExactTwoSided, type DisagreementOptions } from '../../src/analyzer/feedback-disagreement.js';
import { createRng, type Rng } from '../../src/router/random.js';

const OPTIONS: DisagreementOptions = {
  falsePositiveRate: 0.001,
  minFeedback: 10,
  minOthers: 20,
  minOtherClients: 3,
  windowMs: 3_600_000,
  maxEntries: 100_000,
};

/** Four arms whose answers users like with these probabilities, in two contexts. */
const QUALITY: Record<string, number> = { weak: 0.3, fair: 0.5, good: 0.7, best: 0.9 };
const CONTEXTS = ['code', 'chat'];

/** `clients` honest clients, each giving `perCell` feedbacks (thumbs) on every arm in every context. */
function honestPopulation(rng: Rng, options: DisagreementOptions, clients: number, perCell: number) {
  const detector = createFeedbackDisagreement(options, () => 0);
  for (let round = 0; round < perCell; round++) {
    for (let c = 0; c < clients; c++) {
      for (const context of CONTEXTS) {
        for (const [armId, quality] of Object.entries(QUALITY)) {
          detector.observe({ client: `honest-${c}`, armId, context, score: rng() < quality ? 1 : 0, previous: null });
        }
      }
    }
  }
  return detector;
}

describe('Fisher exact test', () => {
  it('matches published two-sided values', () => {
    // Fisher's tea tasting: 3 of 4 right each way.
    expect(fisherExactTwoSided(3, 1, 1, 3)).toBeCloseTo(0.4857, 4);
    // The worked example on Wikipedia's "Fisher's exact test" page (dieting by sex).
    expect(fisherExactTwoSided(1, 9, 11, 3)).toBeCloseTo(0.002759, 6);
    expect(fisherExactTwoSided(5, 5, 5, 5)).toBeCloseTo(1, 9);
    // Large margins go through Stirling's series: the same answer as the exact sums, scaled.
    expect(fisherExactTwoSided(500, 500, 5_000, 5_000)).toBeCloseTo(1, 6);
    expect(fisherExactTwoSided(0, 20, 9_000, 1_000)).toBeLessThan(1e-19);
  });
});

describe('flagging clients whose feedback disagrees with everyone else', () => {
  it('flags honest clients at most at the stated false-positive rate', () => {
    // The rate is per client per evaluation. Trials are kept independent: one population per
    // trial, and only its first client counted (the others are the population it is compared with).
    // Bound: the number of flags among N independent trials with probability ≤ α each is at most
    // Binomial(N, α); its one-sided 1e-6 upper quantile is below αN + 4.9·sqrt(αN(1 − α)) + 1.
    const options = { ...OPTIONS, falsePositiveRate: 0.05 };
    const trials = 600;
    let flagged = 0;
    let tested = 0;
    let flaggedAnyClient = 0;
    for (let trial = 0; trial < trials; trial++) {
      const view = honestPopulation(createRng(10_000 + trial), options, 12, 12).evaluate();
      tested += view.clientsTested;
      flaggedAnyClient += view.flagged.length;
      if (view.flagged.some((f) => f.client === 'honest-0')) flagged += 1;
    }
    const alpha = options.falsePositiveRate;
    const bound = alpha * trials + 4.9 * Math.sqrt(alpha * trials * (1 - alpha)) + 1;
    console.info(`disagreement: honest first clients flagged ${flagged}/${trials} (α ${alpha}, bound ${bound.toFixed(1)}); all clients ${flaggedAnyClient}/${tested}`);
    expect(tested).toBe(trials * 12);
    expect(flagged).toBeLessThanOrEqual(bound);
    // Every client (not independent trials, so only the mean is bounded): the same rate.
    expect(flaggedAnyClient / tested).toBeLessThan(alpha);
  });

  it('flags a client that lies on two arms within 2·minFeedback feedbacks, and not before it has minFeedback on one', () => {
    // The liar says UP to the weakest arm (others: 30% positive) and DOWN to the best (90%),
    // alternating, in one context. Its 19th feedback is its 10th (minFeedback) on the weak arm:
    // that cell's p-value is then about P(10 of 10 positive | 30%) = 0.3^10 ≈ 6e-6 (others' share
    // estimated from 20 × 20 feedbacks), times 1 or 2 cells tested, far below 0.001; its 20th
    // adds the best arm (≈ 0.1^10). So: flagged at its 19th or 20th feedback, never before the
    // 19th (no cell has 10 of its feedbacks before that: enough evidence first).
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed);
      const detector = createFeedbackDisagreement(OPTIONS, () => 0);
      for (let round = 0; round < 20; round++) {
        for (let c = 0; c < 20; c++) {
          for (const [armId, quality] of Object.entries(QUALITY)) {
            detector.observe({ client: `honest-${c}`, armId, context: 'code', score: rng() < quality ? 1 : 0, previous: null });
          }
        }
      }
      let flaggedAt: number | null = null;
      for (let n = 1; n <= 40 && flaggedAt === null; n++) {
        const lie = n % 2 === 1 ? { armId: 'weak', score: 1 } : { armId: 'best', score: 0 };
        detector.observe({ client: 'liar', context: 'code', previous: null, ...lie });
        if (detector.evaluate().flagged.some((f) => f.client === 'liar')) flaggedAt = n;
      }
      expect(flaggedAt, `seed ${seed}`).not.toBeNull();
      expect(flaggedAt!).toBeGreaterThanOrEqual(19);
      expect(flaggedAt!).toBeLessThanOrEqual(20);
      const view = detector.evaluate();
      expect(view.flagged.map((f) => f.client)).toEqual(['liar']);
      expect(view.flagged[0]!.pValue).toBeLessThan(OPTIONS.falsePositiveRate / 10);
    }
  });

  it('needs other clients: two clients that disagree only with each other are not flagged', () => {
    const detector = createFeedbackDisagreement(OPTIONS, () => 0);
    for (let i = 0; i < 50; i++) {
      detector.observe({ client: 'a', armId: 'x', context: 'c', score: 1, previous: null });
      detector.observe({ client: 'b', armId: 'x', context: 'c', score: 0, previous: null });
    }
    expect(detector.evaluate()).toMatchObject({ clientsTested: 0, flagged: [] });
  });

  it('counts a replaced score once, ignores neutral scores, and forgets after two windows', () => {
    let clock = 0;
    const detector = createFeedbackDisagreement(OPTIONS, () => clock);
    const rng = createRng(7);
    for (let i = 0; i < 100; i++) {
      detector.observe({ client: `honest-${i % 5}`, armId: 'x', context: 'c', score: rng() < 0.9 ? 1 : 0, previous: null });
    }
    // Ten DOWNs, each then replaced by an UP: the liar's tally is ten UPs, like everyone else.
    for (let i = 0; i < 10; i++) detector.observe({ client: 'fickle', armId: 'x', context: 'c', score: 0, previous: null });
    for (let i = 0; i < 10; i++) detector.observe({ client: 'fickle', armId: 'x', context: 'c', score: 1, previous: 0 });
    for (let i = 0; i < 30; i++) detector.observe({ client: 'neutral', armId: 'x', context: 'c', score: 0.5, previous: null });
    let view = detector.evaluate();
    expect(view.flagged).toEqual([]);
    expect(view.clientsTested).toBe(6);

    for (let i = 0; i < 12; i++) detector.observe({ client: 'liar', armId: 'x', context: 'c', score: 0, previous: null });
    view = detector.evaluate();
    expect(view.flagged.map((f) => f.client)).toEqual(['liar']);
    expect(view.flagged[0]!.worst).toMatchObject({ armId: 'x', context: 'c', clientPositive: 0, clientFeedbacks: 12 });

    clock += OPTIONS.windowMs;
    expect(detector.evaluate().flagged.map((f) => f.client)).toEqual(['liar']);
    clock += OPTIONS.windowMs;
    expect(detector.evaluate()).toMatchObject({ clientsTested: 0, flagged: [] });
  });

  it('holds at most maxEntries tallies', () => {
    const detector = createFeedbackDisagreement({ ...OPTIONS, maxEntries: 3, minFeedback: 1, minOthers: 1, minOtherClients: 1 }, () => 0);
    for (let i = 0; i < 10; i++) detector.observe({ client: `c${i}`, armId: 'x', context: 'c', score: 1, previous: null });
    expect(detector.evaluate().clientsTested).toBe(3);
  });
});
