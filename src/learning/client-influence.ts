import { createGrowingLru } from '../growing-lru.js';
import { contextChain } from '../router/bandit.js';

/**
 * How much one client's judgement may teach the bandit, so that no single client can steer a
 * context, on by default and safe for a client alone. Clients are told apart by key id, or by
 * remote address without a key (src/auth/principal.ts), not by anything a client can rotate.
 *
 * The rule, in every context the evidence reaches (the request's context and each ancestor up to
 * the global one, as the bandit's update does), the smallest weight winning:
 * - A client is alone in a context while the other clients' recent judgements there weigh less
 *   than `quorum`: it judges at full weight, pinned requests included. There is nobody else's
 *   evidence to protect (its share of others' evidence is undefined), so one client (the embedded
 *   default, the console, a developer) always teaches.
 * - Otherwise a judgement on a pinned request teaches nothing when `ignorePinned` (the client chose
 *   the arm it judges: its score says it aimed at that arm, not what the router's choices give
 *   users; the request's cost, latency and errors, measured by the gateway, still teach).
 * - Otherwise the client may hold at most the larger of (a) `cap / (1 − cap)` times the others'
 *   judgements (a share `cap` of the context) and (b) `TYPICAL_MULTIPLE` times the typical other
 *   client's judgements (Σj² / Σj over the others: the size of the client a random other judgement
 *   belongs to). (a) binds where many clients judge; (b) keeps a few clients learning where a share
 *   cap could not hold for all of them (three equal clients each hold a third). A judgement counts
 *   at the weight that keeps the client within that, down to 0.
 * - A client the analyzer flags (src/analyzer/feedback-disagreement.ts: its feedback disagrees with
 *   every other client's on the same arms and contexts) teaches nothing while it is flagged, when
 *   `ignoreFlagged`: the cap bounds a liar to its share, the flag stops it once its lies are
 *   significant. Flagging needs other clients, so a client alone is never flagged.
 * Others are counted by the judgements they gave, not by what those taught, so a client's room
 * does not depend on how the others were themselves weighed.
 */

/** How many times the typical other client's judgements one client may hold: above 1, so equal clients keep learning. */
const TYPICAL_MULTIPLE = 2;

export interface ClientInfluenceOptions {
  /** Largest share of a context's recent judgements one client may hold, in (0, 1]; 1 = no cap. */
  readonly cap: number;
  /** Other clients' judgements' worth in a context below which a client is alone there (not capped). */
  readonly quorum: number;
  /** Judgements in a context after which earlier ones count half (0 = never forget). */
  readonly halfLife: number;
  /** Judgements on pinned requests teach nothing unless the client is alone. */
  readonly ignorePinned: boolean;
  /** Most (context, client) pairs remembered; the least recently judged are forgotten first. */
  readonly maxEntries?: number;
  /** Whether the analyzer flags the client now (absent: nobody is). */
  readonly flagged?: (client: string) => boolean;
}

/** What one client may still add in a context, given its own and the others' recent judgements. */
export interface Standing {
  /** The client's own taught weight. */
  readonly own: number;
  /** The others' judgements (Σj) and the sum of their squares (Σj²). */
  readonly others: number;
  readonly othersSquared: number;
  /** The analyzer flags the client as disagreeing with everyone else. */
  readonly flagged?: boolean;
}

/** The weight in [0, 1] of a client's next judgement in one context (the rule above). */
export function judgementWeight(standing: Standing, pinned: boolean, options: Pick<ClientInfluenceOptions, 'cap' | 'quorum' | 'ignorePinned'>): number {
  const { own, others, othersSquared } = standing;
  if (others < options.quorum) return 1;
  if (standing.flagged) return 0;
  if (pinned && options.ignorePinned) return 0;
  if (options.cap >= 1) return 1;
  const share = (options.cap / (1 - options.cap)) * others;
  const typical = others > 0 ? othersSquared / others : 0;
  const allowed = Math.max(share, TYPICAL_MULTIPLE * typical);
  return Math.min(1, Math.max(0, allowed - own));
}

export interface ClientInfluence {
  /**
   * The weight of `client`'s new judgement in `context` (and its ancestors), counted at once: call
   * it once per judgement, and give a replacement judgement the weight of the one it replaces.
   */
  weigh(client: string, context: string, pinned: boolean): number;
}

interface ContextTally {
  clock: number;
  stamp: number;
  /** Σ over clients of their decayed judgements, and of their squares (decayed to `stamp`). */
  judgements: number;
  squares: number;
}

interface ClientTally {
  readonly tally: ContextTally;
  judgements: number;
  weight: number;
  stamp: number;
}

export function createClientInfluence(options: ClientInfluenceOptions): ClientInfluence {
  if (!(options.cap > 0 && options.cap <= 1)) throw new RangeError('cap must be in (0, 1]');
  if (!(options.quorum >= 0)) throw new RangeError('quorum must be ≥ 0');
  const decayPerTick = options.halfLife > 0 ? Math.LN2 / options.halfLife : 0;
  const max = options.maxEntries ?? 100_000;
  const factor = (ticks: number) => (decayPerTick > 0 && ticks > 0 ? Math.exp(-decayPerTick * ticks) : 1);
  const contexts = createGrowingLru<string, ContextTally>(max);
  const bringTallyUp = (tally: ContextTally) => {
    const f = factor(tally.clock - tally.stamp);
    tally.judgements *= f;
    tally.squares *= f * f;
    tally.stamp = tally.clock;
  };
  const bringClientUp = (own: ClientTally) => {
    const f = factor(own.tally.clock - own.stamp);
    own.judgements *= f;
    own.weight *= f;
    own.stamp = own.tally.clock;
  };
  // A forgotten client leaves its context's sums (while that context is remembered).
  const clients = createGrowingLru<string, ClientTally>(max, {
    dispose: (own, _key, reason) => {
      if (reason !== 'evict' && reason !== 'delete') return;
      bringTallyUp(own.tally);
      bringClientUp(own);
      own.tally.judgements = Math.max(0, own.tally.judgements - own.judgements);
      own.tally.squares = Math.max(0, own.tally.squares - own.judgements * own.judgements);
    },
  });

  const standingIn = (client: string, context: string) => {
    let tally = contexts.get(context);
    if (!tally) {
      tally = { clock: 0, stamp: 0, judgements: 0, squares: 0 };
      contexts.set(context, tally);
    }
    bringTallyUp(tally);
    const key = `${context}\u0000${client}`;
    let own = clients.get(key);
    // A tally of a context forgotten and seen again starts over with it.
    if (!own || own.tally !== tally) {
      own = { tally, judgements: 0, weight: 0, stamp: tally.clock };
      clients.set(key, own);
    }
    bringClientUp(own);
    return own;
  };

  return {
    weigh(client, context, pinned) {
      const standings = contextChain(context).map((c) => standingIn(client, c));
      const flagged = options.flagged?.(client) ?? false;
      let weight = 1;
      for (const own of standings) {
        const others = Math.max(0, own.tally.judgements - own.judgements);
        const othersSquared = Math.max(0, own.tally.squares - own.judgements * own.judgements);
        weight = Math.min(weight, judgementWeight({ own: own.weight, others, othersSquared, flagged }, pinned, options));
      }
      for (const own of standings) {
        own.tally.squares += 2 * own.judgements + 1;
        own.tally.judgements += 1;
        own.judgements += 1;
        own.weight += weight;
        own.tally.clock += 1;
      }
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
 * weight now (counted at once against its standing).
 */
export function verdictWeight(influence: ClientInfluence, judged: JudgedRequest, replacedWeight: number | null | undefined): number {
  if (replacedWeight !== null && replacedWeight !== undefined) return replacedWeight;
  if (judged.shared) return 0;
  return influence.weigh(judged.client ?? 'unknown', judged.context, judged.pinned);
}
