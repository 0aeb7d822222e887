import { createRng } from '../router/random.js';

/**
 * Halves of a replay file, by 0-based position: `even` / `odd` (interleaved, so both halves hold every
 * task in the file's order) or `random-a` / `random-b` (a seeded random half, ⌈n/2⌉ rows in A; the kept
 * rows stay in file order). The same seed gives the same halves in the replay and in
 * scripts/thompson-baseline.ts.
 */
export type RowHalf = 'even' | 'odd' | 'random-a' | 'random-b';

export const ROW_HALVES: readonly RowHalf[] = ['even', 'odd', 'random-a', 'random-b'];

export const isRowHalf = (value: string): value is RowHalf => (ROW_HALVES as readonly string[]).includes(value);

/** The positions (of n rows) in half A of the random split with this seed. */
function randomHalfA(n: number, seed: number): Set<number> {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return new Set(order.slice(0, Math.ceil(n / 2)));
}

/** The rows of `rows` in `half`, in file order. */
export function selectHalf<T>(rows: readonly T[], half: RowHalf, seed = 1): T[] {
  switch (half) {
    case 'even':
      return rows.filter((_, i) => i % 2 === 0);
    case 'odd':
      return rows.filter((_, i) => i % 2 === 1);
    case 'random-a':
    case 'random-b': {
      const a = randomHalfA(rows.length, seed);
      return rows.filter((_, i) => a.has(i) === (half === 'random-a'));
    }
  }
}
