/**
 * The clock and timers the chunkers wait on. They are dependencies so tests can drive time
 * explicitly instead of asserting on wall-clock delays.
 */
export interface StreamTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemStreamTimers: StreamTimers = {
  // Monotonic, so a wall-clock adjustment can never stretch or cut a flush window.
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const TIMED_OUT: unique symbol = Symbol('timed out');
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * Settles with `promise`, with {@link TIMED_OUT} after `timeoutMs` (when given) or with
 * {@link ABORTED} once `signal` aborts, whichever comes first. The timer and the abort listener
 * are always removed, so a long stream of waits leaves nothing attached to the signal.
 */
export function raceTimeoutAndAbort<T>(
  timers: StreamTimers,
  promise: Promise<T> | null,
  timeoutMs: number | null,
  signal: AbortSignal,
): Promise<T | typeof TIMED_OUT | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    let handle: unknown = null;
    const cleanUp = (): void => {
      if (handle !== null) timers.clearTimeout(handle);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      cleanUp();
      resolve(ABORTED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== null) {
      handle = timers.setTimeout(() => {
        cleanUp();
        resolve(TIMED_OUT);
      }, Math.max(0, timeoutMs));
    }
    promise?.then(
      (value) => {
        cleanUp();
        resolve(value);
      },
      (error: unknown) => {
        cleanUp();
        reject(error);
      },
    );
  });
}
