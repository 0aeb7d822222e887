import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

/** Priors from config (arms[].priors): computed exactly, so the assertions are equalities up to rounding. */
function statsWith(arms: unknown[]) {
  const config = parseConfig({ models: [{ id: 'm', provider: 'simulated' }], arms, bandit: { halfLife: 0 } });
  return createStats(config.bandit, createRewardCalculator(config.reward), config.arms);
}

const mean = (p: { alpha: number; beta: number }) => p.alpha / (p.alpha + p.beta);

describe('arm priors in config', () => {
  it('sets the prior of an arm everywhere and per context path; deeper contexts inherit through the hierarchy', () => {
    const stats = statsWith([
      { id: 'strong', model: 'm', priors: [{ mean: 0.9, strength: 20 }, { context: 'Code', mean: 0.6, strength: 10 }] },
      { id: 'plain', model: 'm' },
    ]);
    expect(stats.posterior('strong', '*').alpha).toBeCloseTo(18, 12);
    expect(stats.posterior('strong', '*').beta).toBeCloseTo(2, 12);
    expect(stats.posterior('plain', '*')).toEqual({ alpha: 1, beta: 1 });
    expect(stats.posterior('strong', 'code').alpha).toBeCloseTo(6, 12);
    expect(stats.posterior('strong', 'code').beta).toBeCloseTo(4, 12);
    // A context without a prior of its own borrows hierarchyStrength (4) pseudo-observations of its parent's mean.
    expect(mean(stats.posterior('strong', 'chat'))).toBeCloseTo(0.9, 12);
    expect(mean(stats.posterior('strong', 'code/short'))).toBeCloseTo(0.6, 12);
  });

  it('is outweighed by live evidence: after n scores the mean is (strength · mean + successes) / (strength + n)', () => {
    const stats = statsWith([{ id: 'a', model: 'm', priors: [{ mean: 0.9, strength: 10 }] }]);
    for (let i = 0; i < 90; i++) {
      stats.recordPull('a', '*');
      stats.update('a', '*', i % 10 < 3 ? 1 : 0, 1);
    }
    expect(mean(stats.posterior('a', '*'))).toBeCloseTo((9 + 27) / 100, 12);
  });

  it('refuses a mean outside (0, 1) or a strength that is not positive, naming the field', () => {
    expect(() => statsWith([{ id: 'a', model: 'm', priors: [{ mean: 1, strength: 5 }] }])).toThrow(/arms\.0\.priors\.0\.mean/);
    expect(() => statsWith([{ id: 'a', model: 'm', priors: [{ mean: 0.5, strength: 0 }] }])).toThrow(/arms\.0\.priors\.0\.strength/);
  });
});
