import { UpstreamError, type CompletionEvent } from './backend.js';

/**
 * Deadlines around any backend's stream:
 * - first token: from the start until the first `token` event (retryable: nothing was sent yet);
 * - idle: after the first token, the longest wait on the upstream for the next event (not
 *   retryable, the client already has part of an answer);
 * - total: from the start to the end of the stream (retryable only before the first token).
 *
 * The clocks run only while the consumer waits in `next()`: a slow consumer is not the model's
 * fault. On a deadline the child signal given to `start` is aborted (so the backend closes its
 * socket) and the pending `next()` rejects at once, without waiting for the upstream to notice.
 * `return()` (the consumer unsubscribing) aborts the child signal at once as well.
 */

export interface StreamTimeouts {
  readonly firstTokenMs: number;
  readonly idleMs: number;
  readonly totalMs: number;
}

export function withStreamTimeouts(
  start: (signal: AbortSignal) => AsyncIterable<CompletionEvent>,
  timeouts: StreamTimeouts,
  signal: AbortSignal,
): AsyncIterable<CompletionEvent> {
  return {
    [Symbol.asyncIterator]: () => createTimedIterator(start, timeouts, signal),
  };
}

type Deadline = { readonly at: number; readonly error: () => UpstreamError };

function createTimedIterator(
  start: (signal: AbortSignal) => AsyncIterable<CompletionEvent>,
  timeouts: StreamTimeouts,
  parent: AbortSignal,
): AsyncIterator<CompletionEvent> {
  const child = new AbortController();
  const startedAt = performance.now();
  let upstream: AsyncIterator<CompletionEvent> | undefined;
  let tokensSent = false;
  let finished = false;
  /** The next() waiting on the upstream, with the deadline it must meet; undefined between calls. */
  let pending: { readonly deadline: Deadline; readonly reject: (reason: unknown) => void } | undefined;
  // One timer for the whole stream, re-armed lazily: the idle deadline moves with every token, and
  // a timer per token would cost more than the token itself for fast models.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;

  const onParentAbort = (): void => {
    child.abort(parent.reason);
    const waiting = pending;
    if (waiting) {
      finish();
      waiting.reject(parent.reason ?? new DOMException('The operation was aborted', 'AbortError'));
    }
  };
  parent.addEventListener('abort', onParentAbort, { once: true });

  function finish(): void {
    finished = true;
    pending = undefined;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    parent.removeEventListener('abort', onParentAbort);
  }

  function abandonUpstream(reason: unknown): void {
    child.abort(reason);
    // Fire and forget: an async generator queues return() behind its pending next(), and the abort
    // above is what actually stops it.
    upstream?.return?.().catch(() => {});
  }

  function onTimer(): void {
    timer = undefined;
    timerAt = Infinity;
    const waiting = pending;
    if (!waiting) return;
    // The deadline moved later since the timer was armed: wait for the rest.
    if (waiting.deadline.at > performance.now()) return arm(waiting.deadline.at);
    const error = waiting.deadline.error();
    finish();
    abandonUpstream(error);
    waiting.reject(error);
  }

  function arm(at: number): void {
    // An earlier timer re-arms itself when it fires; only a later one must be replaced.
    if (timer !== undefined && timerAt <= at) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(onTimer, Math.max(0, at - performance.now()));
    // Whatever the stream waits on keeps the process alive; the deadline alone need not.
    timer.unref();
  }

  function nextDeadline(): Deadline {
    const totalAt = startedAt + timeouts.totalMs;
    const phaseAt = tokensSent ? performance.now() + timeouts.idleMs : startedAt + timeouts.firstTokenMs;
    if (totalAt < phaseAt) {
      return {
        at: totalAt,
        error: () =>
          new UpstreamError('UPSTREAM_TOTAL_TIMEOUT', `stream exceeded the total timeout of ${timeouts.totalMs} ms`, {
            retryable: !tokensSent,
          }),
      };
    }
    return tokensSent
      ? {
          at: phaseAt,
          error: () =>
            new UpstreamError('UPSTREAM_IDLE_TIMEOUT', `no event from the model for ${timeouts.idleMs} ms`, {
              retryable: false,
            }),
        }
      : {
          at: phaseAt,
          error: () =>
            new UpstreamError('UPSTREAM_FIRST_TOKEN_TIMEOUT', `no first token within ${timeouts.firstTokenMs} ms`, {
              retryable: true,
            }),
        };
  }

  return {
    next(): Promise<IteratorResult<CompletionEvent>> {
      if (finished) return Promise.resolve({ done: true, value: undefined });
      if (parent.aborted) {
        finish();
        abandonUpstream(parent.reason);
        return Promise.reject(parent.reason ?? new DOMException('The operation was aborted', 'AbortError'));
      }
      try {
        upstream ??= start(child.signal)[Symbol.asyncIterator]();
      } catch (error) {
        finish();
        return Promise.reject(error);
      }
      const deadline = nextDeadline();
      const pendingUpstream = upstream.next();
      return new Promise<IteratorResult<CompletionEvent>>((resolve, reject) => {
        const waiting = { deadline, reject };
        pending = waiting;
        arm(deadline.at);
        pendingUpstream.then(
          (result) => {
            // Settled already by a deadline or an abort.
            if (pending !== waiting) return;
            pending = undefined;
            if (result.done) finish();
            else if (result.value.type === 'token') tokensSent = true;
            resolve(result);
          },
          (error: unknown) => {
            if (pending !== waiting) return;
            finish();
            reject(error);
          },
        );
      });
    },
    return(): Promise<IteratorResult<CompletionEvent>> {
      if (!finished) {
        finish();
        abandonUpstream(new DOMException('The consumer stopped reading the stream', 'AbortError'));
      }
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}
