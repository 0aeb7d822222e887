/**
 * Pacing of answers that are already complete, so a replay reads at the speed the arm would have
 * streamed it live. See docs/streaming-and-analyzer.md, "Pacing".
 */

/** English averages about 0.75 words per BPE token (roughly 4 characters per token). */
export const WORDS_PER_TOKEN = 0.75;

export interface PacingBounds {
  readonly minMs: number;
  /** 0 disables pacing altogether. */
  readonly maxMs: number;
}

/**
 * Delay between two chunks of `wordsPerChunk` words: the time the arm takes to produce them,
 * `1000 * wordsPerChunk / (tokensPerSecond * WORDS_PER_TOKEN)` ms, clamped to [minMs, maxMs].
 * An arm with no measured speed (null, 0, NaN) gets minMs: without evidence a replay is not
 * slowed more than the floor. Returns 0 when maxMs is 0.
 */
export function pacingDelayMs(tokensPerSecond: number | null, wordsPerChunk: number, bounds: PacingBounds): number {
  const { minMs, maxMs } = bounds;
  if (maxMs <= 0) return 0;
  const floor = Math.min(Math.max(0, minMs), maxMs);
  if (tokensPerSecond === null || !(tokensPerSecond > 0) || !(wordsPerChunk > 0)) return floor;
  const ms = (1000 * wordsPerChunk) / (tokensPerSecond * WORDS_PER_TOKEN);
  return Math.min(maxMs, Math.max(floor, ms));
}
