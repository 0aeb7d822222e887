import { describe, expect, it } from 'vitest';
import { cappedWeight, createClientInfluence, verdictWeight } from '../../src/learning/client-influence.js';

describe('client influence', () => {
  it('gives the weight that keeps a client at the cap, never more than 1 or less than 0', () => {
    const options = { cap: 0.2, pseudoWeight: 20 };
    expect(cappedWeight(0, 0, options)).toBe(1);
    // (c + x) / (t + p + x) = cap exactly at the returned weight, when it is below 1.
    const [c, t] = [9.5, 30];
    const x = cappedWeight(c, t, options);
    expect(x).toBeGreaterThan(0);
    expect(x).toBeLessThan(1);
    expect((c + x) / (t + options.pseudoWeight + x)).toBeCloseTo(options.cap, 12);
    expect(cappedWeight(50, 60, options)).toBe(0);
    expect(cappedWeight(1_000, 0, { cap: 1, pseudoWeight: 0 })).toBe(1);
  });

  it("bounds one client's share of a context however many judgements it sends, and leaves others alone", () => {
    const influence = createClientInfluence({ cap: 0.2, pseudoWeight: 20, halfLife: 0, ignorePinned: true });
    let attacker = 0;
    let honest = 0;
    for (let i = 0; i < 1_000; i++) {
      attacker += influence.weigh('anonymous@10.0.0.66', 'code', false);
      if (i % 2 === 0) honest += influence.weigh(`anonymous@10.0.1.${i % 100}`, 'code', false);
    }
    expect(attacker / (attacker + honest + 20)).toBeLessThanOrEqual(0.2 + 1e-9);
    expect(honest).toBe(500);
    // Another context is its own.
    expect(influence.weigh('anonymous@10.0.0.66', 'prose', false)).toBe(1);
    expect(influence.weigh('anonymous@10.0.0.66', 'prose', true)).toBe(0);
  });

  it('weighs every verdict by one rule: a replacement keeps its weight, a shared answer weighs 0, the rest is capped', () => {
    const influence = createClientInfluence({ cap: 0.2, pseudoWeight: 20, halfLife: 0, ignorePinned: true });
    const judged = { client: 'anonymous@10.0.0.66', shared: false, context: 'code', pinned: false };
    expect(verdictWeight(influence, { ...judged, shared: true }, undefined)).toBe(0);
    expect(verdictWeight(influence, { ...judged, pinned: true }, null)).toBe(0);
    expect(verdictWeight(influence, judged, 0.37)).toBe(0.37);
    // Feedback (one verdict each) and comparisons (one verdict per arm compared) draw on one
    // share: 10 feedbacks and 20 comparisons (40 verdicts) from one client hold at most the cap.
    let total = 0;
    for (let i = 0; i < 10; i++) total += verdictWeight(influence, judged, undefined);
    for (let i = 0; i < 20; i++) {
      total += verdictWeight(influence, judged, undefined) + verdictWeight(influence, judged, undefined);
    }
    expect(total / (total + 20)).toBeCloseTo(0.2, 9);
  });
});
