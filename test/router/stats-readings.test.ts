import { describe, expect, it } from 'vitest';
import { createContextualStats } from '../../src/router/bandit.js';

/**
 * Readings are kept per context until the statistics change (src/router/bandit.ts): every change
 * and every switch of context must show in the next read, sharpened or not.
 */
describe('cached arm readings', () => {
  const make = () =>
    createContextualStats({
      prior: { alpha: 1, beta: 1 },
      hierarchyStrength: 4,
      halfLife: 100,
      recentHalfLife: 10,
      penalty: (expected) => expected.costUsd,
    });

  it('shows every update, operational record and pull in the next read', () => {
    const stats = make();
    const first = { ...stats.read('a', 'code') };
    stats.update('a', 'code', 1, 1);
    const afterUpdate = { ...stats.read('a', 'code') };
    expect(afterUpdate.alpha).toBeGreaterThan(first.alpha);
    stats.recordOperational('a', 'code', { costUsd: 0.5, latencyMs: 10 });
    expect(stats.read('a', 'code').penalty).toBeCloseTo(0.5, 9);
    stats.recordPull('a', 'code');
    for (let i = 0; i < 50; i++) stats.recordPull('a', 'code');
    // Forgetting: the pulls ticked the clock, the evidence decayed toward the prior.
    expect(stats.read('a', 'code').alpha).toBeLessThan(afterUpdate.alpha);
  });

  it('reads each context afresh when contexts alternate, and agrees with the uncached posterior', () => {
    const stats = make();
    stats.update('a', 'code', 1, 5);
    stats.update('a', 'chat', 0, 5);
    for (const context of ['code', 'chat', 'code', 'chat/short', 'code']) {
      for (const k of [1, 3]) {
        const reading = stats.read('a', context, k);
        const posterior = stats.posterior('a', context, k);
        expect(reading.alpha).toBeCloseTo(posterior.alpha, 12);
        expect(reading.beta).toBeCloseTo(posterior.beta, 12);
      }
    }
    expect(stats.read('a', 'code').alpha).toBeGreaterThan(stats.read('a', 'chat').alpha);
  });

  it('gives utilities from the same readings as read()', () => {
    const stats = make();
    stats.update('a', 'code', 1, 3);
    stats.update('b', 'code', 0, 3);
    const means = new Float64Array(2);
    const sds = new Float64Array(2);
    stats.utilities(['a', 'b'], 'code', means, sds);
    const a = stats.read('a', 'code');
    expect(means[0]).toBeCloseTo(a.alpha / (a.alpha + a.beta) - a.penalty, 12);
    expect(means[0]).toBeGreaterThan(means[1]!);
  });
});
