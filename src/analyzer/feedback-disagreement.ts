/**
 * Flags clients whose feedback disagrees with everyone else's (issue 14): a client that rates an
 * arm in a context far from how the other clients rate the same arm in the same context is either
 * lying or seeing something nobody else sees; either way an operator should look.
 *
 * The test, per client: in every (arm, context) cell where the client and the others have enough
 * feedback, Fisher's exact test of the 2×2 table (the client's positive and negative feedbacks
 * against the other clients' positive and negative feedbacks on that cell); the client's p-value is
 * the smallest cell's times the number of cells tested (Bonferroni), and the client is flagged when
 * it is below `falsePositiveRate`. Fisher's test is exact (conservative: its p-values are never too
 * small, whatever the cell's true rate and however few the feedbacks), and Bonferroni is valid
 * under any dependence between cells, so an honest client, whose feedback is drawn like everyone
 * else's, is flagged with probability at most `falsePositiveRate` per evaluation. A client that
 * always says the opposite on an arm that others rate 90% positive is flagged after `minFeedback`
 * feedbacks on it (p ≈ 2·0.1^n per cell, far below any usual rate once n ≥ minFeedback = 10).
 *
 * A score counts as positive above 0.5 and negative below (a neutral 0.5 says neither, and is not
 * counted): thumbs and ratings alike. Clients are told apart as src/learning/client-influence.ts
 * does (key id, or remote address without a key). Feedback is kept for one to two `windowMs`
 * (two rotating buckets), so a client that stops lying is cleared, and at most `maxEntries`
 * (cell, client) tallies are held: past that, new pairs are not tracked until the window turns.
 *
 * Each instance tests the feedback it took itself (like the analyzer's windows). Pure domain code,
 * no GraphQL: the view is read through src/analyzer/interval-view.ts once per interval.
 */

export interface DisagreementOptions {
  /** The chance an honest client is flagged in one evaluation, at most; in (0, 1). */
  readonly falsePositiveRate: number;
  /** A client's counted feedbacks in a cell before that cell is tested. */
  readonly minFeedback: number;
  /** Other clients' counted feedbacks in the cell before it is tested. */
  readonly minOthers: number;
  /** Distinct other clients in the cell before it is tested ("everyone else", not one other). */
  readonly minOtherClients: number;
  /** Feedback is remembered for between one and two of these. */
  readonly windowMs: number;
  /** Most (cell, client) tallies held. */
  readonly maxEntries: number;
}

export interface JudgedFeedback {
  readonly client: string;
  readonly armId: string;
  readonly context: string;
  readonly score: number;
  /** The score by the same client on the same request this one replaces (null for a first one). */
  readonly previous: number | null;
}

export interface DisagreeingCell {
  readonly armId: string;
  readonly context: string;
  readonly clientPositive: number;
  readonly clientFeedbacks: number;
  readonly othersPositive: number;
  readonly othersFeedbacks: number;
  /** Fisher's exact two-sided p-value of this cell alone. */
  readonly pValue: number;
}

export interface DisagreeingClient {
  readonly client: string;
  /** The smallest cell p-value times the cells tested (Bonferroni), at most 1. */
  readonly pValue: number;
  readonly cellsTested: number;
  /** The cell that disagrees most. */
  readonly worst: DisagreeingCell;
}

export interface DisagreementView {
  readonly generatedAt: number;
  readonly falsePositiveRate: number;
  /** Clients with at least one cell tested. */
  readonly clientsTested: number;
  /** Flagged clients, most significant first. */
  readonly flagged: readonly DisagreeingClient[];
}

export interface FeedbackDisagreement {
  observe(feedback: JudgedFeedback): void;
  /** Runs the test over what is remembered now (cost linear in the feedback remembered). */
  evaluate(): DisagreementView;
}

interface Tally {
  positive: number;
  negative: number;
}

interface Bucket {
  readonly index: number;
  /** cell key → client → tally */
  readonly cells: Map<string, Map<string, Tally>>;
  entries: number;
}

const CELL_SEPARATOR = '\u0000';
const cellKey = (armId: string, context: string) => `${armId}${CELL_SEPARATOR}${context}`;

/** -1 negative, 1 positive, 0 neutral (not counted). */
const polarity = (score: number): -1 | 0 | 1 => (score > 0.5 ? 1 : score < 0.5 ? -1 : 0);

export function createFeedbackDisagreement(options: DisagreementOptions, now: () => number = Date.now): FeedbackDisagreement {
  if (!(options.falsePositiveRate > 0 && options.falsePositiveRate < 1)) throw new RangeError('falsePositiveRate must be in (0, 1)');
  const emptyBucket = (index: number): Bucket => ({ index, cells: new Map(), entries: 0 });
  let current = emptyBucket(Math.floor(now() / options.windowMs));
  let previous = emptyBucket(current.index - 1);

  const rotate = () => {
    const index = Math.floor(now() / options.windowMs);
    if (index === current.index) return;
    previous = index === current.index + 1 ? current : emptyBucket(index - 1);
    current = emptyBucket(index);
  };

  const tallyIn = (bucket: Bucket, key: string, client: string, create: boolean): Tally | undefined => {
    let clients = bucket.cells.get(key);
    if (!clients) {
      if (!create || bucket.entries >= options.maxEntries) return undefined;
      clients = new Map();
      bucket.cells.set(key, clients);
    }
    let tally = clients.get(client);
    if (!tally && create && bucket.entries < options.maxEntries) {
      tally = { positive: 0, negative: 0 };
      clients.set(client, tally);
      bucket.entries += 1;
    }
    return tally;
  };

  const add = (tally: Tally, sign: -1 | 1, delta: number) => {
    if (sign > 0) tally.positive = Math.max(0, tally.positive + delta);
    else tally.negative = Math.max(0, tally.negative + delta);
  };

  return {
    observe({ client, armId, context, score, previous: replaced }) {
      rotate();
      const key = cellKey(armId, context);
      if (replaced !== null) {
        const old = polarity(replaced);
        if (old !== 0) {
          // Retract where it was counted: this window if it is there, else the one before.
          const here = tallyIn(current, key, client, false);
          const has = (t: Tally | undefined) => t !== undefined && (old > 0 ? t.positive : t.negative) > 0;
          const from = has(here) ? here : tallyIn(previous, key, client, false);
          if (has(from)) add(from!, old, -1);
        }
      }
      const sign = polarity(score);
      if (sign === 0) return;
      const tally = tallyIn(current, key, client, true);
      if (tally) add(tally, sign, 1);
    },

    evaluate() {
      rotate();
      // Both buckets merged: cell → client → tally.
      const merged = new Map<string, Map<string, Tally>>();
      for (const bucket of [previous, current]) {
        for (const [key, clients] of bucket.cells) {
          let into = merged.get(key);
          if (!into) merged.set(key, (into = new Map()));
          for (const [client, t] of clients) {
            const sum = into.get(client) ?? { positive: 0, negative: 0 };
            sum.positive += t.positive;
            sum.negative += t.negative;
            into.set(client, sum);
          }
        }
      }
      const perClient = new Map<string, { cells: number; worst: DisagreeingCell }>();
      for (const [key, clients] of merged) {
        const [armId, context] = key.split(CELL_SEPARATOR) as [string, string];
        let positive = 0;
        let negative = 0;
        let judges = 0;
        for (const t of clients.values()) {
          positive += t.positive;
          negative += t.negative;
          if (t.positive + t.negative > 0) judges += 1;
        }
        for (const [client, own] of clients) {
          const n = own.positive + own.negative;
          if (n < options.minFeedback) continue;
          const othersPositive = positive - own.positive;
          const othersFeedbacks = positive + negative - n;
          if (othersFeedbacks < options.minOthers || judges - 1 < options.minOtherClients) continue;
          const pValue = fisherExactTwoSided(own.positive, own.negative, othersPositive, othersFeedbacks - othersPositive);
          const entry = perClient.get(client);
          const cell: DisagreeingCell = { armId, context, clientPositive: own.positive, clientFeedbacks: n, othersPositive, othersFeedbacks, pValue };
          if (!entry) perClient.set(client, { cells: 1, worst: cell });
          else {
            entry.cells += 1;
            if (pValue < entry.worst.pValue) entry.worst = cell;
          }
        }
      }
      const flagged: DisagreeingClient[] = [];
      for (const [client, { cells, worst }] of perClient) {
        const pValue = Math.min(1, worst.pValue * cells);
        if (pValue < options.falsePositiveRate) flagged.push({ client, pValue, cellsTested: cells, worst });
      }
      flagged.sort((a, b) => a.pValue - b.pValue || a.client.localeCompare(b.client));
      return { generatedAt: now(), falsePositiveRate: options.falsePositiveRate, clientsTested: perClient.size, flagged };
    },
  };
}

const LOG_FACTORIALS: number[] = [0];
/** ln(n!): exact sums up to 4,096, Stirling's series (error < 1e-15 relative) above. */
function logFactorial(n: number): number {
  if (n < 4_096) {
    for (let i = LOG_FACTORIALS.length; i <= n; i++) LOG_FACTORIALS.push(LOG_FACTORIALS[i - 1]! + Math.log(i));
    return LOG_FACTORIALS[n]!;
  }
  const x = n + 1;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3) + 1 / (1260 * x ** 5);
}

const logChoose = (n: number, k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);

/**
 * Fisher's exact test of [[a, b], [c, d]], two-sided: the probability, with the margins fixed, of
 * a table at most as likely as the one observed. Cost linear in min(a + b, a + c).
 */
export function fisherExactTwoSided(a: number, b: number, c: number, d: number): number {
  const row = a + b;
  const column = a + c;
  const total = a + b + c + d;
  const low = Math.max(0, row + column - total);
  const high = Math.min(row, column);
  const denominator = logChoose(total, row);
  const logP = (x: number) => logChoose(column, x) + logChoose(total - column, row - x) - denominator;
  const observed = logP(a);
  // Tables within a relative 1e-7 of the observed one's probability count as equally likely (rounding).
  const threshold = observed + 1e-7;
  let p = 0;
  for (let x = low; x <= high; x++) {
    const lp = logP(x);
    if (lp <= threshold) p += Math.exp(lp);
  }
  return Math.min(1, p);
}
