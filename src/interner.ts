/**
 * Canonical copies of short strings that many long-lived records repeat (a session, a routing
 * context): a string built per request (`connection:${id}`, a classifier's `task/band`) is a new
 * object each time, so every one of the up to `requests.maxRequests` request records the store keeps
 * for feedback would otherwise hold its own 30–60 byte copy of the same text, and every full GC
 * marks it. Bounded: once `max` distinct values are held the table starts over, so values that
 * hardly repeat (sessions a client names) cannot grow it; a value seen after that is a copy again.
 */
export interface Interner {
  /** The first-seen string of this text (since the table last started over). */
  intern(value: string): string;
  /** Distinct values held now (at most `max`). */
  size(): number;
}

export function createInterner(max: number): Interner {
  let table = new Map<string, string>();
  return {
    intern(value) {
      const known = table.get(value);
      if (known !== undefined) return known;
      if (table.size >= max) table = new Map();
      table.set(value, value);
      return value;
    },
    size: () => table.size,
  };
}
