import { principalName, type Principal } from '../auth/principal.js';
import { LimitError } from './limit-error.js';
import type { Lease, LimiterStore, WindowLimiter } from './limiter-store.js';

/**
 * Per-client limits on chats: requests and tokens per minute, concurrent streams, and spend
 * budgets per hour (all chats, and pinned chats) and per UTC day. Requests and streams are counted
 * atomically at admission, so they hold exactly. So do the hourly budgets: each chat reserves its
 * worst-case cost at admission (refused when that would pass the budget) and gives back what it
 * did not use when it ends, so no number of concurrent chats can spend past them. Tokens and the
 * day's spend are counted when a chat ends, so a chat is admitted while the client is below them
 * (a minute or a day can end above the limit by what the chats in flight used: concurrentStreams
 * bounds that).
 */

export interface ChatUsage {
  /** Prompt plus completion tokens that reached a model. */
  readonly tokens: number;
  readonly costUsd: number;
}

export interface Admission {
  /** Counts what the chat used; call once, when it ends, before release. */
  charge(usage: ChatUsage): void;
  /** Frees the concurrent-stream slot, and the reservation of a chat that was not charged. */
  release(): void;
}

/** What a chat may cost at most, known before it starts. */
export interface SpendEstimate {
  /** Its prompt and maxTokens at the dearest price it could be served at. */
  readonly worstCaseUsd: number;
  /** Pinned to an arm, so also counted against pinnedBudgetUsdPerHour. */
  readonly pinned: boolean;
}

export interface ClientLimiter {
  /**
   * Admits a chat or throws LimitError (RATE_LIMITED, BUDGET_EXHAUSTED). `spend` is asked only
   * when the principal has an hourly budget (most chats have none, and it reads every arm's price).
   */
  admit(principal: Principal, spend: () => SpendEstimate): Promise<Admission>;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Spend is counted in whole micro-dollars (the counters are integers). */
const MICRO_USD = 1_000_000;
/** Nobody can tell when a stream ends; a client refused for concurrency may try again soon. */
const STREAM_RETRY_MS = 1_000;
/** What a principal without hourly budgets reserves: nothing (no budget counts it). */
const NO_SPEND: SpendEstimate = { worstCaseUsd: 0, pinned: false };
/** The reservation of a chat that holds no budget: one object for all of them. */
interface Reservation {
  settle(usd: number): void;
  cancel(): void;
}
const NO_RESERVATION: Reservation = { settle(_usd: number): void {}, cancel(): void {} };

export function createClientLimiter(deps: {
  readonly store: LimiterStore;
  readonly onChargeError?: (error: unknown) => void;
  readonly now?: () => number;
}): ClientLimiter {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const windows = new Map<string, WindowLimiter>();
  const windowFor = (name: string, limit: number, durationMs: number): WindowLimiter => {
    const id = `${name}:${limit}`;
    let limiter = windows.get(id);
    if (!limiter) {
      limiter = store.window(name, { limit, durationMs });
      windows.set(id, limiter);
    }
    return limiter;
  };
  const streams = store.slots('streams');
  // A calendar day: the budget resets at 00:00 UTC for everyone, whenever they started spending.
  const dayKey = (name: string) => `${name}:${new Date(now()).toISOString().slice(0, 10)}`;
  const untilMidnightMs = () => DAY_MS - (now() % DAY_MS);
  const ledger: Ledger = { dayKey, onChargeError: deps.onChargeError };

  return {
    async admit(principal, spend) {
      const { limits } = principal;
      const name = principalName(principal);
      // Reserved first: a chat refused by a later limit gives its reservation back at once.
      const reservations = await reserveSpend(name, limits, spend);
      try {
        return await admitWithin(principal, name, reservations);
      } catch (error) {
        reservations.cancel();
        throw error;
      }
    },
  };

  /** The hourly budgets this chat counts against, each holding its worst-case cost. */
  async function reserveSpend(name: string, limits: Principal['limits'], estimate: () => SpendEstimate) {
    const spend = limits.budgetUsdPerHour === undefined && limits.pinnedBudgetUsdPerHour === undefined ? NO_SPEND : estimate();
    const reserved = toMicroUsd(spend.worstCaseUsd);
    // A chat that can cost nothing (no budget, or free models) holds nothing: no budget is looked up.
    if (!(reserved > 0)) return NO_RESERVATION;
    const budgets: Array<{ limiter: WindowLimiter; usd: number; what: string }> = [];
    if (limits.budgetUsdPerHour !== undefined) {
      budgets.push({ limiter: windowFor('spend-hour', toMicroUsd(limits.budgetUsdPerHour), HOUR_MS), usd: limits.budgetUsdPerHour, what: 'chats' });
    }
    if (spend.pinned && limits.pinnedBudgetUsdPerHour !== undefined) {
      budgets.push({
        limiter: windowFor('pinned-spend-hour', toMicroUsd(limits.pinnedBudgetUsdPerHour), HOUR_MS),
        usd: limits.pinnedBudgetUsdPerHour,
        what: 'pinned chats',
      });
    }
    const held: WindowLimiter[] = [];
    const giveBack = (points: number) => {
      if (points <= 0) return;
      Promise.all(held.map((limiter) => limiter.refund(name, points))).catch((error: unknown) => deps.onChargeError?.(error));
    };
    for (const budget of budgets) {
      const decision = await budget.limiter.consume(name, reserved);
      // Counted even when refused: taken back at once.
      held.push(budget.limiter);
      if (!decision.allowed) {
        giveBack(reserved);
        throw new LimitError(
          'BUDGET_EXHAUSTED',
          `${name} has spent its budget of $${budget.usd} per hour on ${budget.what} ` +
            `(this chat could cost up to $${roundUsd(spend.worstCaseUsd)})`,
          decision.resetMs,
        );
      }
    }
    // Nothing held (the principal's budgets do not count this chat): nothing to settle either.
    if (held.length === 0) return NO_RESERVATION;
    let settled = false;
    return {
      /** The chat used `usd`: what it reserved beyond that is given back (anything above it added). */
      settle(usd: number) {
        if (settled) return;
        settled = true;
        const used = toMicroUsd(usd);
        if (used > reserved) Promise.all(held.map((limiter) => limiter.add(name, used - reserved))).catch((error: unknown) => deps.onChargeError?.(error));
        else giveBack(reserved - used);
      },
      cancel() {
        this.settle(0);
      },
    };
  }

  async function admitWithin(principal: Principal, name: string, reservations: Reservation): Promise<Admission> {
    {
      const { limits } = principal;
      const budget = limits.budgetUsdPerDay === undefined ? null : windowFor('budget', toMicroUsd(limits.budgetUsdPerDay), 2 * DAY_MS);
      const tokens = limits.tokensPerMinute === undefined ? null : windowFor('tokens', limits.tokensPerMinute, MINUTE_MS);
      const requests = limits.requestsPerMinute === undefined ? null : windowFor('requests', limits.requestsPerMinute, MINUTE_MS);

      const [spent, used] = await Promise.all([budget?.usage(dayKey(name)), tokens?.usage(name)]);
      if (spent && spent.used >= toMicroUsd(limits.budgetUsdPerDay!)) {
        throw new LimitError(
          'BUDGET_EXHAUSTED',
          `${name} has spent its budget of $${limits.budgetUsdPerDay} for today (UTC)`,
          untilMidnightMs(),
        );
      }
      if (used && used.used >= limits.tokensPerMinute!) {
        throw new LimitError('RATE_LIMITED', `${name} has used its ${limits.tokensPerMinute} tokens per minute`, used.resetMs);
      }
      if (requests) {
        const decision = await requests.consume(name);
        if (!decision.allowed) {
          throw new LimitError('RATE_LIMITED', `${name} has made its ${limits.requestsPerMinute} requests per minute`, decision.resetMs);
        }
      }
      let lease: Lease | null = null;
      if (limits.concurrentStreams !== undefined) {
        lease = await streams.tryAcquire(name, limits.concurrentStreams);
        if (!lease) {
          throw new LimitError('RATE_LIMITED', `${name} has ${limits.concurrentStreams} chats streaming already`, STREAM_RETRY_MS);
        }
      }

      // Nothing counted at the end (no token or day limit, no stream slot, no reservation): one object for all such chats.
      if (!tokens && !budget && !lease && reservations === NO_RESERVATION) return NOTHING_TO_COUNT;
      return new ChatAdmission(ledger, name, tokens, budget, reservations, lease);
    }
  }
}

/** Where a chat's usage is counted when it ends: the same for every chat of one limiter. */
interface Ledger {
  dayKey(name: string): string;
  readonly onChargeError?: ((error: unknown) => void) | undefined;
}

/** An admitted chat's limits, counted once when it ends. A class: a waiting chat holds one. */
class ChatAdmission implements Admission {
  private charged = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly name: string,
    private readonly tokens: WindowLimiter | null,
    private readonly budget: WindowLimiter | null,
    private readonly reservations: Reservation,
    private readonly lease: Lease | null,
  ) {}

  charge(usage: ChatUsage): void {
    if (this.charged) return;
    this.charged = true;
    this.reservations.settle(usage.costUsd);
    const writes: Promise<void>[] = [];
    if (this.tokens && usage.tokens > 0) writes.push(this.tokens.add(this.name, Math.ceil(usage.tokens)));
    if (this.budget && usage.costUsd > 0) writes.push(this.budget.add(this.ledger.dayKey(this.name), toMicroUsd(usage.costUsd)));
    Promise.all(writes).catch((error: unknown) => this.ledger.onChargeError?.(error));
  }

  release(): void {
    // Not charged: nothing is known to have been spent (a cache hit, a failure before any token).
    this.reservations.cancel();
    this.lease?.release();
  }
}

const NOTHING_TO_COUNT: Admission = { charge(): void {}, release(): void {} };

const roundUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;

function toMicroUsd(usd: number): number {
  // Rounded up, so that many small charges cannot slip under the budget.
  return Math.ceil(usd * MICRO_USD - 1e-9);
}
