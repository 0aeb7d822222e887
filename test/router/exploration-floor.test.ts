import { describe, expect, it } from 'vitest';
import { policyFor } from './bernoulli-bandit.js';

/**
 * bandit.explorationFloor (Thompson): an arm with fewer than F quality observations in the task family
 * is tried before any other, however badly its first tries went, and the floor counts the family's
 * evidence, so a deeper context does not pay it again.
 */
describe('exploration floor', () => {
  const arms = ['a', 'b', 'c', 'd'];
  const run = (floor: number, context: string, requests: number, bandit = policyFor({ explorationFloor: floor }, 1)) => {
    const pulls = new Map(arms.map((id) => [id, 0]));
    for (let t = 0; t < requests; t++) {
      const id = bandit.select(arms, context);
      bandit.recordPull(id, context);
      // 'a' always succeeds, the others always fail: without a floor they are dropped after a try or two.
      bandit.update(id, context, id === 'a' ? 1 : 0, 1);
      pulls.set(id, pulls.get(id)! + 1);
    }
    return { pulls, bandit };
  };

  it('gives every arm F observations in a task family before passing it over', () => {
    // Evidence decays a little between pulls, so F observations read as just under F: F + 1 each at most.
    const { pulls, bandit } = run(3, 'task', arms.length * 4);
    for (const id of arms) expect(pulls.get(id)).toBeGreaterThanOrEqual(3);
    // A context below the family already has that evidence through it: no forced pulls there.
    const deeper = run(3, 'task/short', 40, bandit).pulls;
    expect(deeper.get('a')).toBeGreaterThanOrEqual(36);
  });

  it('without a floor, the failing arms get fewer tries', () => {
    const { pulls } = run(0, 'task', arms.length * 4);
    expect(Math.min(...['b', 'c', 'd'].map((id) => pulls.get(id)!))).toBeLessThan(3);
  });
});
