import { principalName, type Principal } from '../auth/principal.js';
import { LimitError } from './limit-error.js';
import type { Lease, LimiterStore, WindowLimiter } from './limiter-store.js';

/**
 * Per-client limits on chats: requests and tokens per minute, concurrent streams, and a spend
 * budget per UTC day. Requests and streams are counted atomically at admission, so they hold
 * exactly; tokens and spend are known only when a chat ends, so a chat is admitted while the
 * client is below them and its actual usage is counted when it ends (a minute or a day can end
 * above the limit by what the chats in flight used: concurrentStreams bounds that).
 */

export interface ChatUsage {
  /** Prompt plus completion tokens that reached a model. */
  readonly tokens: number;
  readonly costUsd: number;
}

export interface Admission {
  /** Counts what the chat used; call once, when it ends. */
  charge(usage: ChatUsage): void;
  /** Frees the concurrent-stream slot. */
  release(): void;
}

export interface ClientLimiter {
  /** Admits a chat or throws LimitError (RATE_LIMITED, BUDGET_EXHAUSTED). */
  admit(principal: Principal): Promise<Admission>;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Spend is counted in whole micro-dollars (the counters are integers). */
const MICRO_USD = 1_000_000;
/** Nobody can tell when a stream ends; a client refused for concurrency may try again soon. */
const STREAM_RETRY_MS = 1_000;

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

  return {
    async admit(principal) {
      const { limits } = principal;
      const name = principalName(principal);
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

      let charged = false;
      return {
        charge(usage) {
          if (charged) return;
          charged = true;
          const writes: Promise<void>[] = [];
          if (tokens && usage.tokens > 0) writes.push(tokens.add(name, Math.ceil(usage.tokens)));
          if (budget && usage.costUsd > 0) writes.push(budget.add(dayKey(name), toMicroUsd(usage.costUsd)));
          Promise.all(writes).catch((error: unknown) => deps.onChargeError?.(error));
        },
        release: () => lease?.release(),
      };
    },
  };
}

function toMicroUsd(usd: number): number {
  // Rounded up, so that many small charges cannot slip under the budget.
  return Math.ceil(usd * MICRO_USD - 1e-9);
}
