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
  // Rejects the pending next() when the parent aborts; set only while a next() is pending.
  let rejectPending: ((reason: unknown) => void) | undefined;

  const onParentAbort = (): void => {
    child.abort(parent.reason);
    rejectPending?.(parent.reason ?? new DOMException('The operation was aborted', 'AbortError'));
  };
  parent.addEventListener('abort', onParentAbort, { once: true });

  function finish(): void {
    finished = true;
    rejectPending = undefined;
    parent.removeEventListener('abort', onParentAbort);
  }

  function abandonUpstream(reason: unknown): void {
    child.abort(reason);
    // Fire and forget: an async generator queues return() behind its pending next(), and the abort
    // above is what actually stops it.
    upstream?.return?.().catch(() => {});
  }

  function nextDeadline(): Deadline {
    const total: Deadline = {
      at: startedAt + timeouts.totalMs,
      error: () =>
        new UpstreamError('UPSTREAM_TOTAL_TIMEOUT', `stream exceeded the total timeout of ${timeouts.totalMs} ms`, {
          retryable: !tokensSent,
        }),
    };
    const phase: Deadline = tokensSent
      ? {
          at: performance.now() + timeouts.idleMs,
          error: () =>
            new UpstreamError('UPSTREAM_IDLE_TIMEOUT', `no event from the model for ${timeouts.idleMs} ms`, {
              retryable: false,
            }),
        }
      : {
          at: startedAt + timeouts.firstTokenMs,
          error: () =>
            new UpstreamError('UPSTREAM_FIRST_TOKEN_TIMEOUT', `no first token within ${timeouts.firstTokenMs} ms`, {
              retryable: true,
            }),
        };
    return phase.at <= total.at ? phase : total;
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
        let settled = false;
        const settle = (action: () => void): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          rejectPending = undefined;
          action();
        };
        const timer = setTimeout(
          () =>
            settle(() => {
              const error = deadline.error();
              finish();
              abandonUpstream(error);
              reject(error);
            }),
          Math.max(0, deadline.at - performance.now()),
        );
        rejectPending = (reason) =>
          settle(() => {
            finish();
            reject(reason);
          });
        pendingUpstream.then(
          (result) =>
            settle(() => {
              if (result.done) {
                finish();
              } else if (result.value.type === 'token') {
                tokensSent = true;
              }
              resolve(result);
            }),
          (error: unknown) =>
            settle(() => {
              finish();
              reject(error);
            }),
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
