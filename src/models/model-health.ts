/**
 * Per-model health: a circuit breaker plus exponentially weighted moving averages (EWMA) of error
 * rate, latency and time to first token.
 *
 * Breaker: closed -> open after `failureThreshold` consecutive failures; open -> half-open once
 * `openMs` has passed; in half-open exactly one probe request is let through (`tryAcquire`), and
 * its success closes the breaker while its failure opens it for another `openMs`. A probe that
 * reports nothing for `openMs` is presumed lost and another one is allowed.
 *
 * Retry-After: a failure carrying `retryAfterMs` (a 429) makes the model unavailable until then,
 * whatever the breaker says.
 *
 * EWMA: x' = alpha * sample + (1 - alpha) * x, with a failure counting 1 and a success 0 for the
 * error rate; the latency averages start at their first sample. "degraded" means the breaker is
 * closed but the error-rate EWMA is above `degradedErrorRate`: with alpha 0.2 and threshold 0.2,
 * one failure after a clean run (0.2) is not yet degraded, two in a row (0.36) are.
 */

export type ModelHealthStatus = 'healthy' | 'degraded' | 'open' | 'half-open';

export interface ModelHealthSnapshot {
  readonly status: ModelHealthStatus;
  readonly consecutiveFailures: number;
  /** Outcomes recorded (successes + failures). */
  readonly requests: number;
  readonly failures: number;
  readonly errorRateEwma: number;
  readonly latencyEwmaMs: number | null;
  readonly ttftEwmaMs: number | null;
  /** Clock time until which Retry-After asks us not to call, or null. */
  readonly retryAfterUntil: number | null;
  /** Clock time at which an open breaker lets a probe through, or null when not open. */
  readonly openUntil: number | null;
}

export interface ModelHealth {
  /** Non-reserving: false while open, while a Retry-After is pending, or while a probe is in flight. */
  available(): boolean;
  /** Reserving: like available(), but in half-open it lets exactly one probe through. */
  tryAcquire(): boolean;
  recordSuccess(sample: { latencyMs: number; ttftMs: number }): void;
  recordFailure(failure?: { retryAfterMs?: number | undefined }): void;
  /**
   * The call that acquired ended with no verdict on the model (the client left): frees a
   * half-open probe slot without counting anything.
   */
  release(): void;
  snapshot(): ModelHealthSnapshot;
}

export interface ModelHealthOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before a half-open probe. */
  readonly openMs?: number;
  /** EWMA weight of the newest sample, in (0, 1]. */
  readonly ewmaAlpha?: number;
  /** Error-rate EWMA above which a closed breaker reports "degraded". */
  readonly degradedErrorRate?: number;
  readonly now?: () => number;
}

export function createModelHealth(options: ModelHealthOptions = {}): ModelHealth {
  const failureThreshold = options.failureThreshold ?? 5;
  const openMs = options.openMs ?? 30_000;
  const alpha = options.ewmaAlpha ?? 0.2;
  const degradedErrorRate = options.degradedErrorRate ?? 0.2;
  const now = options.now ?? Date.now;
  if (!(failureThreshold >= 1)) throw new RangeError('failureThreshold must be at least 1');
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError('ewmaAlpha must be in (0, 1]');

  let consecutiveFailures = 0;
  let requests = 0;
  let failures = 0;
  let errorRateEwma = 0;
  let latencyEwmaMs: number | null = null;
  let ttftEwmaMs: number | null = null;
  let retryAfterUntil: number | null = null;
  /** Set while the breaker is open or half-open. */
  let openUntil: number | null = null;
  /** When the current half-open probe was let through, or null. */
  let probeStartedAt: number | null = null;

  const ewma = (previous: number | null, sample: number): number =>
    previous === null ? sample : alpha * sample + (1 - alpha) * previous;

  function breakerState(t: number): 'closed' | 'open' | 'half-open' {
    if (openUntil === null) return 'closed';
    return t < openUntil ? 'open' : 'half-open';
  }

  function probeInFlight(t: number): boolean {
    return probeStartedAt !== null && t - probeStartedAt < openMs;
  }

  function retryAfterPending(t: number): boolean {
    return retryAfterUntil !== null && t < retryAfterUntil;
  }

  function available(): boolean {
    const t = now();
    if (retryAfterPending(t)) return false;
    const state = breakerState(t);
    if (state === 'open') return false;
    return state === 'closed' || !probeInFlight(t);
  }

  return {
    available,
    tryAcquire() {
      if (!available()) return false;
      const t = now();
      if (breakerState(t) === 'half-open') probeStartedAt = t;
      return true;
    },
    recordSuccess(sample) {
      requests++;
      consecutiveFailures = 0;
      errorRateEwma = ewma(errorRateEwma, 0);
      latencyEwmaMs = ewma(latencyEwmaMs, sample.latencyMs);
      ttftEwmaMs = ewma(ttftEwmaMs, sample.ttftMs);
      // Any success, a probe's or a late one from before the breaker opened, shows the model works.
      openUntil = null;
      probeStartedAt = null;
    },
    recordFailure(failure) {
      const t = now();
      requests++;
      failures++;
      consecutiveFailures++;
      errorRateEwma = ewma(errorRateEwma, 1);
      const retryAfterMs = failure?.retryAfterMs;
      if (retryAfterMs !== undefined && retryAfterMs > 0) {
        retryAfterUntil = Math.max(retryAfterUntil ?? 0, t + retryAfterMs);
      }
      const state = breakerState(t);
      // Late failures of calls started before the breaker opened do not extend the open period.
      if (state === 'half-open' || (state === 'closed' && consecutiveFailures >= failureThreshold)) {
        openUntil = t + openMs;
      }
      probeStartedAt = null;
    },
    release() {
      probeStartedAt = null;
    },
    snapshot() {
      const t = now();
      const state = breakerState(t);
      const status: ModelHealthStatus =
        state !== 'closed' ? state : errorRateEwma > degradedErrorRate ? 'degraded' : 'healthy';
      return {
        status,
        consecutiveFailures,
        requests,
        failures,
        errorRateEwma,
        latencyEwmaMs,
        ttftEwmaMs,
        retryAfterUntil: retryAfterPending(t) ? retryAfterUntil : null,
        openUntil,
      };
    },
  };
}
