import type { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Semaphore } from 'redis-semaphore';
import type { Logger } from '../logger.js';

// The three classes used, from their own files: rate-limiter-flexible's index requires every store it
// has (Mongo, MySQL, Postgres, Prisma, DynamoDB, etcd, SQLite, ...), ~0.6 MB of heap for nothing
// (docs/performance.md, "Tenth pass: start-up library heap"). The package has no exports map;
// these are the files its index requires, so the classes are the same ones.
// The Redis store and redis-semaphore are loaded only by a store given Redis: the embedded default
// never uses them.
const require = createRequire(import.meta.url);
const RateLimiterMemory = require('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof import('rate-limiter-flexible').RateLimiterMemory;
const loadRateLimiterRedis = () =>
  require('rate-limiter-flexible/lib/RateLimiterRedis.js') as typeof import('rate-limiter-flexible').RateLimiterRedis;
const loadSemaphore = () => (require('redis-semaphore') as typeof import('redis-semaphore')).Semaphore;
const RateLimiterRes = require('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof import('rate-limiter-flexible').RateLimiterRes;
type RateLimiterRes = import('rate-limiter-flexible').RateLimiterRes;

/**
 * The one mechanism for limits: fixed-window counters and counting semaphores, in Redis when it
 * is configured (atomic there, so every instance shares one count) and in memory otherwise.
 * Windows are rate-limiter-flexible's; slots are redis-semaphore's leases. While Redis is
 * unreachable both fall back to this instance's memory, so a Redis outage neither stops traffic
 * nor lifts the limits (each instance then enforces them on its own).
 */

export interface WindowUsage {
  /** Points counted in the current window. */
  readonly used: number;
  /** Until the window (and this count) resets. */
  readonly resetMs: number;
}

export interface WindowDecision extends WindowUsage {
  readonly allowed: boolean;
}

export interface WindowLimiter {
  /** Counts `points` and says whether the window's limit still holds (refused points count too). */
  consume(key: string, points?: number): Promise<WindowDecision>;
  /** What the window holds for `key`, without counting anything. */
  usage(key: string): Promise<WindowUsage>;
  /** Counts points after the fact (usage measured when a request ends). */
  add(key: string, points: number): Promise<void>;
  /** Takes back points counted earlier (a reservation larger than what was used). */
  refund(key: string, points: number): Promise<void>;
}

export interface Lease {
  /** Frees the slot; later calls do nothing. */
  release(): void;
}

export interface SlotLimiter {
  /** A slot when fewer than `limit` are held for `key`, else null. */
  tryAcquire(key: string, limit: number): Promise<Lease | null>;
}

/** Slots counted in this instance's memory only, synchronously: what one instance takes on. */
export interface LocalSlotLimiter {
  tryAcquire(key: string, limit: number): Lease | null;
  /** Slots held for `key` now. */
  held(key: string): number;
}

export interface LimiterStore {
  readonly shared: boolean;
  /** A counter of at most `limit` points per `durationMs` for each key. */
  window(name: string, options: { limit: number; durationMs: number }): WindowLimiter;
  slots(name: string): SlotLimiter;
  /** Slots of this instance alone (its own capacity), whether or not Redis is configured. */
  localSlots(name: string): LocalSlotLimiter;
  /** Releases every slot this instance holds. */
  close(): Promise<void>;
}

export interface LimiterStoreDeps {
  readonly redis: Redis | null;
  readonly keyPrefix: string;
  /** How long a Redis slot outlives an instance that stopped refreshing it. */
  readonly leaseMs: number;
  readonly logger: Logger;
}

/**
 * A lease that frees its slot once, however often it is released. Classes rather than closures:
 * a chat waiting for its first token holds three leases.
 */
abstract class HeldLease implements Lease {
  private released = false;

  constructor(private readonly held: Set<Lease>) {
    held.add(this);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.held.delete(this);
    this.free();
  }

  protected abstract free(): void;
}

/** A slot counted in this instance's memory. */
class CountedLease extends HeldLease {
  constructor(
    held: Set<Lease>,
    private readonly counts: Map<string, number>,
    private readonly key: string,
  ) {
    super(held);
  }

  protected free(): void {
    const left = (this.counts.get(this.key) ?? 1) - 1;
    if (left <= 0) this.counts.delete(this.key);
    else this.counts.set(this.key, left);
  }
}

/** A slot of a Redis semaphore. */
class SemaphoreLease extends HeldLease {
  constructor(
    held: Set<Lease>,
    private readonly semaphore: Semaphore,
    private readonly log: Logger,
    private readonly key: string,
  ) {
    super(held);
  }

  protected free(): void {
    this.semaphore.release().catch((error: unknown) => {
      // The lease then expires by itself after leaseMs.
      this.log.debug({ err: error instanceof Error ? error.message : String(error), key: this.key }, 'releasing a stream slot failed');
    });
  }
}

export function createLimiterStore(deps: LimiterStoreDeps): LimiterStore {
  const { redis, logger } = deps;
  const log = logger.child({ component: 'limits' });
  const held = new Set<Lease>();
  let redisFailing = false;
  const noteRedis = (ok: boolean, error?: unknown) => {
    if (ok === !redisFailing) return;
    redisFailing = !ok;
    if (ok) log.info('limits are shared through Redis again');
    else log.warn({ err: error instanceof Error ? error.message : String(error) }, 'Redis is unreachable: limits are enforced per instance');
  };

  function window(name: string, options: { limit: number; durationMs: number }): WindowLimiter {
    const common = { keyPrefix: `${deps.keyPrefix}limits:${name}`, points: options.limit, duration: Math.ceil(options.durationMs / 1000) };
    const limiter: RateLimiterAbstract = redis
      ? new (loadRateLimiterRedis())({
          ...common,
          storeClient: redis,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new RateLimiterMemory(common),
        })
      : new RateLimiterMemory(common);
    const usageOf = (res: RateLimiterRes | null): WindowUsage => ({
      used: res?.consumedPoints ?? 0,
      resetMs: res?.msBeforeNext ?? 0,
    });
    return {
      async consume(key, points = 1) {
        try {
          return { allowed: true, ...usageOf(await limiter.consume(key, points)) };
        } catch (rejection) {
          if (rejection instanceof RateLimiterRes) return { allowed: false, ...usageOf(rejection) };
          throw rejection;
        }
      },
      usage: async (key) => usageOf(await limiter.get(key)),
      async add(key, points) {
        if (points > 0) await limiter.penalty(key, points);
      },
      async refund(key, points) {
        if (points > 0) await limiter.reward(key, points);
      },
    };
  }

  function memorySlots(): LocalSlotLimiter {
    const counts = new Map<string, number>();
    return {
      held: (key) => counts.get(key) ?? 0,
      tryAcquire(key, limit) {
        const count = counts.get(key) ?? 0;
        if (count >= limit) return null;
        counts.set(key, count + 1);
        return new CountedLease(held, counts, key);
      },
    };
  }

  function slots(name: string): SlotLimiter {
    const local = memorySlots();
    if (!redis) return { tryAcquire: async (key, limit) => local.tryAcquire(key, limit) };
    const Semaphore = loadSemaphore();
    return {
      async tryAcquire(key, limit) {
        const semaphore = new Semaphore(redis, `${deps.keyPrefix}limits:${name}:${key}`, limit, {
          lockTimeout: deps.leaseMs,
          acquireAttemptsLimit: 1,
          // A lost lease (Redis restarted, or unreachable past leaseMs) frees a slot early; that
          // is the same trade as a Redis outage, and must not throw from a timer.
          onLockLost: () => log.debug({ key }, 'a stream slot lease was lost'),
        });
        let acquired: boolean;
        try {
          acquired = await semaphore.tryAcquire();
          noteRedis(true);
        } catch (error) {
          noteRedis(false, error);
          return local.tryAcquire(key, limit);
        }
        if (!acquired) return null;
        return new SemaphoreLease(held, semaphore, log, key);
      },
    };
  }

  return {
    shared: redis !== null,
    window,
    slots,
    localSlots: memorySlots,
    async close() {
      for (const lease of [...held]) lease.release();
    },
  };
}
