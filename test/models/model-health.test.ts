import { describe, expect, it } from 'vitest';
import { createModelHealth } from '../../src/models/model-health.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const ok = { latencyMs: 100, ttftMs: 20 };

describe('model health', () => {
  it('starts healthy and available with no figures', () => {
    const health = createModelHealth({ now: clock().now });
    expect(health.available()).toBe(true);
    expect(health.snapshot()).toEqual({
      status: 'healthy',
      consecutiveFailures: 0,
      requests: 0,
      failures: 0,
      errorRateEwma: 0,
      latencyEwmaMs: null,
      ttftEwmaMs: null,
      retryAfterUntil: null,
      openUntil: null,
    });
  });

  it('opens after failureThreshold consecutive failures, and a success in between resets the run', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 3, openMs: 10_000, now: c.now });
    health.recordFailure();
    health.recordFailure();
    health.recordSuccess(ok);
    health.recordFailure();
    health.recordFailure();
    expect(health.snapshot().status).not.toBe('open');
    expect(health.available()).toBe(true);
    health.recordFailure();
    const snap = health.snapshot();
    expect(snap.status).toBe('open');
    expect(snap.consecutiveFailures).toBe(3);
    expect(snap.openUntil).toBe(c.now() + 10_000);
    expect(health.available()).toBe(false);
    expect(health.tryAcquire()).toBe(false);
  });

  it('goes half-open after openMs and lets exactly one probe through', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 1, openMs: 5_000, now: c.now });
    health.recordFailure();
    c.advance(4_999);
    expect(health.available()).toBe(false);
    c.advance(1);
    expect(health.snapshot().status).toBe('half-open');
    expect(health.available()).toBe(true);
    expect(health.tryAcquire()).toBe(true);
    // The probe is in flight: nobody else gets through, and available() says so without reserving.
    expect(health.available()).toBe(false);
    expect(health.tryAcquire()).toBe(false);
    health.recordSuccess(ok);
    expect(health.snapshot().status).toBe('healthy');
    expect(health.snapshot().openUntil).toBeNull();
    expect(health.tryAcquire()).toBe(true);
    expect(health.tryAcquire()).toBe(true);
  });

  it('a failed probe re-opens the breaker for another openMs', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 2, openMs: 1_000, now: c.now });
    health.recordFailure();
    health.recordFailure();
    c.advance(1_000);
    expect(health.tryAcquire()).toBe(true);
    health.recordFailure();
    expect(health.snapshot().status).toBe('open');
    expect(health.snapshot().openUntil).toBe(c.now() + 1_000);
    c.advance(1_000);
    expect(health.tryAcquire()).toBe(true);
  });

  it('release() frees a probe slot without counting an outcome', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 1, openMs: 1_000, now: c.now });
    health.recordFailure();
    c.advance(1_000);
    expect(health.tryAcquire()).toBe(true);
    health.release();
    expect(health.snapshot().requests).toBe(1);
    expect(health.tryAcquire()).toBe(true);
  });

  it('a probe that never reports is presumed lost after openMs', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 1, openMs: 1_000, now: c.now });
    health.recordFailure();
    c.advance(1_000);
    expect(health.tryAcquire()).toBe(true);
    c.advance(999);
    expect(health.tryAcquire()).toBe(false);
    c.advance(1);
    expect(health.tryAcquire()).toBe(true);
  });

  it('late failures while open do not extend the open period', () => {
    const c = clock();
    const health = createModelHealth({ failureThreshold: 1, openMs: 1_000, now: c.now });
    health.recordFailure();
    const openUntil = health.snapshot().openUntil;
    c.advance(500);
    health.recordFailure();
    expect(health.snapshot().openUntil).toBe(openUntil);
  });

  it('Retry-After makes the model unavailable until it passes, even with the breaker closed', () => {
    const c = clock();
    const health = createModelHealth({ now: c.now });
    health.recordFailure({ retryAfterMs: 2_000 });
    expect(health.snapshot().consecutiveFailures).toBe(1);
    expect(health.available()).toBe(false);
    expect(health.tryAcquire()).toBe(false);
    expect(health.snapshot().retryAfterUntil).toBe(c.now() + 2_000);
    // A shorter Retry-After does not shorten a longer one.
    health.recordFailure({ retryAfterMs: 500 });
    expect(health.snapshot().retryAfterUntil).toBe(c.now() + 2_000);
    c.advance(2_000);
    expect(health.available()).toBe(true);
    expect(health.snapshot().retryAfterUntil).toBeNull();
  });

  it('keeps EWMAs of error rate, latency and TTFT', () => {
    const c = clock();
    const health = createModelHealth({ ewmaAlpha: 0.5, now: c.now });
    health.recordSuccess({ latencyMs: 100, ttftMs: 10 });
    expect(health.snapshot().latencyEwmaMs).toBe(100);
    expect(health.snapshot().ttftEwmaMs).toBe(10);
    health.recordSuccess({ latencyMs: 300, ttftMs: 30 });
    expect(health.snapshot().latencyEwmaMs).toBe(200);
    expect(health.snapshot().ttftEwmaMs).toBe(20);
    health.recordFailure();
    expect(health.snapshot().errorRateEwma).toBe(0.5);
    health.recordFailure();
    expect(health.snapshot().errorRateEwma).toBe(0.75);
    health.recordSuccess(ok);
    expect(health.snapshot().errorRateEwma).toBe(0.375);
    expect(health.snapshot()).toMatchObject({ requests: 5, failures: 2, consecutiveFailures: 0 });
  });

  it('reports degraded while closed with an error-rate EWMA above the threshold', () => {
    const c = clock();
    const health = createModelHealth({ now: c.now });
    for (let i = 0; i < 10; i++) health.recordSuccess(ok);
    health.recordFailure();
    // alpha 0.2: one failure after a clean run gives exactly 0.2, not above the threshold.
    expect(health.snapshot().errorRateEwma).toBeCloseTo(0.2, 12);
    expect(health.snapshot().status).toBe('healthy');
    health.recordFailure();
    expect(health.snapshot().errorRateEwma).toBeCloseTo(0.36, 12);
    expect(health.snapshot().status).toBe('degraded');
    expect(health.available()).toBe(true);
  });
});
