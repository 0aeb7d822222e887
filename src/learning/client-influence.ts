import { LRUCache } from 'lru-cache';

/**
 * How much one client's judgement may teach the bandit, so that no single client can steer a
 * context: each client's decayed share of the judgement weight in a context is kept at most `cap`,
 * counting `pseudoWeight` judgements' worth of room before anyone has judged (so a new context is
 * not closed to its first client). A client past its share has its judgements counted at the
 * weight that keeps it at the cap, down to 0; it regains room only as other clients judge.
 *
 * Judgements on pinned requests teach nothing: the client chose the arm, so its score is evidence
 * it aimed at that arm, not a sample of what the router's choices give users (the request's cost,
 * latency and errors, measured by the gateway, still teach). Clients are told apart by key id, or
 * by remote address without a key (src/auth/principal.ts), not by anything a client can rotate.
 */

export interface ClientInfluenceOptions {
  /** Largest share of a context's recent judgement weight one client may hold, in (0, 1]; 1 = no cap. */
  readonly cap: number;
  /** Judgements' worth of room in a context before any client judged. */
  readonly pseudoWeight: number;
  /** Judgements in a context after which earlier weight counts half (0 = never forget). */
  readonly halfLife: number;
  /** Judgements on pinned requests teach nothing (false: they count like any other, under the cap). */
  readonly ignorePinned: boolean;
  /** Most (context, client) pairs remembered; the least recently judged are forgotten first. */
  readonly maxEntries?: number;
}

/**
 * The weight in [0, 1] at which a judgement of a client holding `clientWeight` of a context's
 * `totalWeight` keeps its share at most `cap`: the largest x ≤ 1 with
 * (clientWeight + x) / (totalWeight + pseudoWeight + x) ≤ cap.
 */
export function cappedWeight(clientWeight: number, totalWeight: number, options: Pick<ClientInfluenceOptions, 'cap' | 'pseudoWeight'>): number {
  const { cap, pseudoWeight } = options;
  if (cap >= 1) return 1;
  const room = (cap * (totalWeight + pseudoWeight) - clientWeight) / (1 - cap);
  return Math.min(1, Math.max(0, room));
}

export interface ClientInfluence {
  /**
   * The weight of `client`'s new judgement in `context` (0 for a pinned request), counted at once:
   * call it once per judgement, and give a replacement judgement the weight of the one it replaces.
   */
  weigh(client: string, context: string, pinned: boolean): number;
}

interface ContextTally {
  clock: number;
  total: number;
  stamp: number;
}

interface ClientTally {
  weight: number;
  stamp: number;
}

export function createClientInfluence(options: ClientInfluenceOptions): ClientInfluence {
  if (!(options.cap > 0 && options.cap <= 1)) throw new RangeError('cap must be in (0, 1]');
  const decayPerTick = options.halfLife > 0 ? Math.LN2 / options.halfLife : 0;
  const max = options.maxEntries ?? 100_000;
  const contexts = new LRUCache<string, ContextTally>({ max });
  const clients = new LRUCache<string, ClientTally>({ max });
  const decayed = (value: number, from: number, to: number) => (decayPerTick > 0 ? value * Math.exp(-decayPerTick * (to - from)) : value);

  return {
    weigh(client, context, pinned) {
      if (pinned && options.ignorePinned) return 0;
      const tally = contexts.get(context) ?? { clock: 0, total: 0, stamp: 0 };
      tally.total = decayed(tally.total, tally.stamp, tally.clock);
      tally.stamp = tally.clock;
      const key = `${context}\u0000${client}`;
      const own = clients.get(key) ?? { weight: 0, stamp: tally.clock };
      own.weight = decayed(own.weight, own.stamp, tally.clock);
      own.stamp = tally.clock;
      const weight = cappedWeight(own.weight, tally.total, options);
      own.weight += weight;
      tally.total += weight;
      tally.clock += 1;
      contexts.set(context, tally);
      clients.set(key, own);
      return weight;
    },
  };
}

/** A judged request as its judgement's weight depends on it. */
export interface JudgedRequest {
  /** Who judges (key id, or anonymous@address); null when unknown. */
  readonly client: string | null;
  /** The answer came from the cache or another request's call: it says nothing of the arm's choice. */
  readonly shared: boolean;
  readonly context: string;
  readonly pinned: boolean;
}

/**
 * The weight of one verdict of a client's judgement, for feedback (one verdict) and comparisons
 * (one per arm compared) alike: a verdict that replaces one by the same judge keeps that one's
 * weight (a second opinion takes no more share); a shared answer weighs 0; otherwise the client's
 * capped weight now (counted at once against its share).
 */
export function verdictWeight(influence: ClientInfluence, judged: JudgedRequest, replacedWeight: number | null | undefined): number {
  if (replacedWeight !== null && replacedWeight !== undefined) return replacedWeight;
  if (judged.shared) return 0;
  return influence.weigh(judged.client ?? 'unknown', judged.context, judged.pinned);
}
