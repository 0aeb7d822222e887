import { describe, expect, it } from 'vitest';
import { ROW_HALVES, selectHalf } from '../../src/replay/row-split.js';

describe('replay halves (--rows)', () => {
  const rows = Array.from({ length: 101 }, (_, i) => i);

  it('splits interleaved and seeded random halves that are disjoint, cover the file and keep its order', () => {
    expect(selectHalf(rows, 'even').slice(0, 3)).toEqual([0, 2, 4]);
    expect(selectHalf(rows, 'odd').slice(0, 3)).toEqual([1, 3, 5]);
    for (const [a, b] of [['even', 'odd'], ['random-a', 'random-b']] as const) {
      const [x, y] = [selectHalf(rows, a, 5), selectHalf(rows, b, 5)];
      expect([...x, ...y].sort((p, q) => p - q)).toEqual(rows);
      for (const half of [x, y]) expect(half).toEqual([...half].sort((p, q) => p - q));
    }
    expect(selectHalf(rows, 'random-a', 5)).toHaveLength(51);
  });

  it('draws the random halves from the seed alone', () => {
    expect(selectHalf(rows, 'random-a', 3)).toEqual(selectHalf(rows, 'random-a', 3));
    expect(selectHalf(rows, 'random-a', 3)).not.toEqual(selectHalf(rows, 'random-a', 4));
    // Not the interleaved halves in disguise: about half of A's rows are at even positions (binomial
    // sd ≈ 3.6 of ~25; the seed is fixed, so this only guards against a split that is not random).
    const evens = selectHalf(rows, 'random-a', 3).filter((i) => i % 2 === 0).length;
    expect(evens).toBeGreaterThan(15);
    expect(evens).toBeLessThan(36);
    expect(ROW_HALVES).toEqual(['even', 'odd', 'random-a', 'random-b']);
  });
});
