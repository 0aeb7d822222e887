import { describe, expect, it } from 'vitest';
import { createClientInfluence, judgementWeight, verdictWeight } from '../../src/learning/client-influence.js';

const DEFAULTS = { cap: 0.2, quorum: 20, halfLife: 0, ignorePinned: true };

describe('client influence', () => {
  it('weighs one judgement by one rule: alone, pinned, the share cap, the typical other client', () => {
    const rule = { cap: 0.2, quorum: 20, ignorePinned: true };
    // Alone (others below the quorum): full weight, pinned or not, whatever the client holds.
    expect(judgementWeight({ own: 1_000, others: 19.9, othersSquared: 19.9 }, true, rule)).toBe(1);
    // Others present: pinned teaches nothing; routed is held at cap / (1 − cap) of the others.
    expect(judgementWeight({ own: 0, others: 100, othersSquared: 100 }, true, rule)).toBe(0);
    expect(judgementWeight({ own: 24.5, others: 100, othersSquared: 100 }, false, rule)).toBeCloseTo(0.5, 12);
    expect(judgementWeight({ own: 30, others: 100, othersSquared: 100 }, false, rule)).toBe(0);
    // A few clients: up to twice the typical other (two others of 50: typical 50).
    expect(judgementWeight({ own: 99.5, others: 100, othersSquared: 5_000 }, false, rule)).toBeCloseTo(0.5, 12);
    // Cap 1: no cap; the pinned rule still holds, and off, pinned counts like routed.
    expect(judgementWeight({ own: 1e6, others: 100, othersSquared: 100 }, false, { ...rule, cap: 1 })).toBe(1);
    expect(judgementWeight({ own: 0, others: 100, othersSquared: 100 }, true, { ...rule, cap: 1 })).toBe(0);
    expect(judgementWeight({ own: 0, others: 100, othersSquared: 100 }, true, { ...rule, ignorePinned: false })).toBe(1);
  });

  it('lets a client alone teach every judgement, pinned or not, and one stray other client changes nothing', () => {
    const influence = createClientInfluence(DEFAULTS);
    for (let i = 0; i < 1_000; i++) expect(influence.weigh('anonymous@127.0.0.1', 'code', i % 2 === 0)).toBe(1);
    // A second client's few judgements (below the quorum) leave the first alone.
    for (let i = 0; i < 19; i++) expect(influence.weigh('ci', 'code', false)).toBe(1);
    expect(influence.weigh('anonymous@127.0.0.1', 'code', true)).toBe(1);
  });

  it("bounds one client's share of a context however many judgements it sends, and leaves others alone", () => {
    const influence = createClientInfluence(DEFAULTS);
    let attacker = 0;
    let honest = 0;
    for (let i = 0; i < 1_000; i++) {
      attacker += influence.weigh('anonymous@10.0.0.66', 'code', false);
      if (i % 2 === 0) honest += influence.weigh(`anonymous@10.0.1.${i % 100}`, 'code', false);
    }
    expect(honest).toBe(500);
    // At most a share of 0.2 beside the others' 500 judgements, with the quorum's first judgements at full weight.
    expect(attacker).toBeLessThanOrEqual((0.2 / 0.8) * 500 + 1);
    expect(attacker).toBeGreaterThan((0.2 / 0.8) * 500 - 2);
    // Pinned, once others judge: nothing.
    expect(influence.weigh('anonymous@10.0.0.66', 'code', true)).toBe(0);
  });

  it('keeps a few equal clients learning at full weight, where a share cap of 0.2 could not hold for all', () => {
    const influence = createClientInfluence(DEFAULTS);
    for (let i = 0; i < 3_000; i++) expect(influence.weigh(`client-${i % 3}`, 'code', false)).toBe(1);
    // A client judging far more than the other two is held at twice the typical other.
    let eager = 0;
    for (let i = 0; i < 3_000; i++) eager += influence.weigh('client-0', 'code', false);
    expect(eager).toBeCloseTo(2 * 1_000 - 1_000, 6);
  });

  it('gives a client the analyzer flags weight 0 while it is flagged, and never one alone', () => {
    let flagged = new Set<string>(['anonymous@10.0.0.66']);
    const influence = createClientInfluence({ ...DEFAULTS, flagged: (client) => flagged.has(client) });
    expect(influence.weigh('anonymous@10.0.0.66', 'code', false)).toBe(1);
    for (let i = 0; i < 40; i++) influence.weigh(`anonymous@10.0.1.${i}`, 'code', false);
    expect(influence.weigh('anonymous@10.0.0.66', 'code', false)).toBe(0);
    expect(influence.weigh('anonymous@10.0.1.1', 'code', false)).toBe(1);
    flagged = new Set();
    expect(influence.weigh('anonymous@10.0.0.66', 'code', false)).toBe(1);
  });

  it('caps in every context the evidence reaches: a fresh child context does not reopen the global share', () => {
    const influence = createClientInfluence(DEFAULTS);
    for (let i = 0; i < 400; i++) influence.weigh(`anonymous@10.0.1.${i % 40}`, 'chat', false);
    // Alone in contexts of its own, but its evidence reaches the global context, which others judge.
    let attacker = 0;
    for (let i = 0; i < 1_000; i++) attacker += influence.weigh('anonymous@10.0.0.66', `mine-${i}`, false);
    expect(attacker).toBeLessThanOrEqual((0.2 / 0.8) * 400 + 1);
    expect(influence.weigh('anonymous@10.0.0.66', 'mine-x/deeper', true)).toBe(0);
  });

  it('weighs every verdict by one rule: a replacement keeps its weight, a shared answer weighs 0, the rest by standing', () => {
    const influence = createClientInfluence(DEFAULTS);
    for (let i = 0; i < 40; i++) influence.weigh(`anonymous@10.0.1.${i}`, 'code', false);
    const judged = { client: 'anonymous@10.0.0.66', shared: false, context: 'code', pinned: false };
    expect(verdictWeight(influence, { ...judged, shared: true }, undefined)).toBe(0);
    expect(verdictWeight(influence, { ...judged, pinned: true }, null)).toBe(0);
    expect(verdictWeight(influence, judged, 0.37)).toBe(0.37);
    // Feedback (one verdict each) and comparisons (one verdict per arm compared) draw on one
    // standing: 10 feedbacks and 20 comparisons (40 verdicts) from one client hold at most the cap
    // of the others' 40 judgements.
    let total = 0;
    for (let i = 0; i < 10; i++) total += verdictWeight(influence, judged, undefined);
    for (let i = 0; i < 20; i++) {
      total += verdictWeight(influence, judged, undefined) + verdictWeight(influence, judged, undefined);
    }
    expect(total).toBeCloseTo((0.2 / 0.8) * 40, 9);
  });

  it('forgets the least recently judged clients, and their judgements leave the context', () => {
    const judgeAll = (maxEntries?: number) => {
      const influence = createClientInfluence({ ...DEFAULTS, quorum: 27, ...(maxEntries ? { maxEntries } : {}) });
      for (let i = 0; i < 30; i++) influence.weigh(`old-${i}`, '*', false);
      return influence.weigh('late', '*', true);
    };
    // Remembered, the 30 are over the quorum: the late client's pinned judgement teaches nothing.
    expect(judgeAll()).toBe(0);
    // With room for 25, the forgotten left the sums (24 remain with the late one's entry): it is alone.
    expect(judgeAll(25)).toBe(1);
  });
});
