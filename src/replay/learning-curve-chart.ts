import type { SeededCurvePoint } from './replay-seeds.js';

/**
 * The learning curve as a terminal chart: one line per window, a bar for quality and one for cost,
 * both as shares of the best single model's in that window (mean over seeds ± standard deviation).
 */

const WIDTH = 30;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `share` (0..scale) in WIDTH cells, to an eighth of a cell. */
function bar(share: number, scale: number): string {
  const cells = Math.max(0, Math.min(1, share / scale)) * WIDTH;
  const whole = Math.floor(cells);
  const part = EIGHTHS[Math.floor((cells - whole) * 8)]!;
  return ('█'.repeat(whole) + part).padEnd(WIDTH);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`.padStart(6);

export function renderLearningCurve(curve: readonly SeededCurvePoint[]): string {
  if (curve.length === 0) return '';
  const withCost = curve.some((p) => p.cost !== null);
  // Quality shares sit near 1 (a bar from 0 would hide the differences); cost shares span 0..1+.
  const qualityScale = Math.max(1, ...curve.map((p) => p.quality.mean));
  const costScale = Math.max(1, ...curve.map((p) => p.cost?.mean ?? 0));
  const head = `${'rows'.padStart(6)}  ${'quality (share of best single)'.padEnd(WIDTH + 15)}${withCost ? 'cost (share of best single)' : ''}`;
  const lines = curve.map((p) => {
    const q = `${bar(p.quality.mean, qualityScale)} ${pct(p.quality.mean)} ±${(100 * p.quality.sd).toFixed(1).padStart(4)}`;
    const c = p.cost ? `  ${bar(p.cost.mean, costScale)} ${pct(p.cost.mean)} ±${(100 * p.cost.sd).toFixed(1).padStart(4)}` : '';
    return `${String(p.rows).padStart(6)}  ${q}${c}`;
  });
  return [head, ...lines].join('\n');
}
