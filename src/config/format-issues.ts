import { distance } from 'fastest-levenshtein';
import type { z } from 'zod';

/**
 * How configuration problems read: one line per problem, by field path, and for an unknown field
 * the known field it most likely meant (`"ttftMS"` → `ttftMs`), so a typo is fixed in one go.
 */

/** Passed to `safeParse` as `error`: words the unknown-field issues; every other issue keeps Zod's message. */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'unrecognized_keys') return undefined;
  const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  const known = shape ? Object.keys(shape) : [];
  const described = issue.keys.map((key) => {
    const suggestion = closestKey(key, known);
    return suggestion === undefined ? `"${key}"` : `"${key}" (did you mean "${suggestion}"?)`;
  });
  return `unknown field${issue.keys.length > 1 ? 's' : ''} ${described.join(', ')}`;
};

/** The known key a typo most likely meant: same letters in another case, or a few edits away. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // A third of the key's length is a typo; more is a different word.
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * `setBy` names, by field path, the environment variable a field came from (`server.port` →
 * `PORT=70000`): the file, or the embedded default, did not say what is wrong there.
 */
export function formatIssues(error: z.ZodError, source: string, setBy: Readonly<Record<string, string>> = {}): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    const origin = setBy[path] === undefined ? '' : ` (set by ${setBy[path]})`;
    return `  - ${path}${origin}: ${issue.message}`;
  });
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}
