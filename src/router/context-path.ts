import { CONTEXT_SEPARATOR } from './bandit.js';

/**
 * How long a context path may be. A context borrows strength from every ancestor, and reading an
 * arm's posterior walks the whole chain for each level (quadratic in the segments), so the path
 * is bounded where it enters: a chat's tags (one segment each) and a context named by a query.
 */

/** Tags per request: segments of the context path. Deeper paths only dilute the statistics. */
export const MAX_CONTEXT_SEGMENTS = 8;

/** Characters per tag. */
export const MAX_TAG_CHARS = 64;

/**
 * Characters of a context name: MAX_CONTEXT_SEGMENTS tags and their separators, with room for
 * lower-casing, which can double a character ("İ" becomes "i̇").
 */
export const MAX_CONTEXT_CHARS = MAX_CONTEXT_SEGMENTS * (2 * MAX_TAG_CHARS + 1);

/** Why `context` cannot name a context, or null when it can. */
export function contextPathProblem(context: string): string | null {
  if (context.length > MAX_CONTEXT_CHARS) {
    return `a context name has at most ${MAX_CONTEXT_CHARS} characters (this one has ${context.length})`;
  }
  let segments = 1;
  for (let i = context.indexOf(CONTEXT_SEPARATOR); i !== -1; i = context.indexOf(CONTEXT_SEPARATOR, i + 1)) segments++;
  if (segments > MAX_CONTEXT_SEGMENTS) {
    return `a context path has at most ${MAX_CONTEXT_SEGMENTS} segments (this one has ${segments})`;
  }
  return null;
}
