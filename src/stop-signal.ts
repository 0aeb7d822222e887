/**
 * What code that only watches for a stop needs of a signal. Node's AbortSignal is one; so is a
 * StopController, at a fraction of its cost: an AbortController costs ~770 B once its signal
 * exists (an EventTarget with its listener table and maps) and a few µs to make. A chat's own
 * stop is a StopController; only what is handed to a Node API (undici, timers) needs Node's
 * AbortSignal, which leaves one per chat: the model call's (see withStreamTimeouts).
 */
export type AbortListener = (() => void) | { handleEvent(): void };

export interface StopSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/** Its own signal; listeners run once, in the order added, as an AbortSignal's do. */
export class StopController implements StopSignal {
  aborted = false;
  reason: unknown = undefined;
  /** One listener in the common case (the model call's), an array only beyond it. */
  private listeners: AbortListener | AbortListener[] | null = null;

  get signal(): StopSignal {
    return this;
  }

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const { listeners } = this;
    this.listeners = null;
    if (listeners === null) return;
    for (const listener of Array.isArray(listeners) ? listeners : [listeners]) {
      try {
        if (typeof listener === 'function') listener();
        else listener.handleEvent();
      } catch (error) {
        // As an EventTarget does: a throwing listener is reported, and the others still run.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  addEventListener(_type: 'abort', listener: AbortListener): void {
    // Listeners added after the abort never run, as on an AbortSignal; `once` is what every
    // listener gets, since the abort happens once.
    if (this.aborted) return;
    const { listeners } = this;
    if (listeners === null) this.listeners = listener;
    else if (!Array.isArray(listeners)) {
      if (listeners !== listener) this.listeners = [listeners, listener];
    } else if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const { listeners } = this;
    if (listeners === listener) this.listeners = null;
    else if (Array.isArray(listeners)) {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    }
  }
}

/**
 * A StopController whose Node AbortSignal is made only when something asks for it
 * (`abortSignal`), already aborted if the stop came first. A model call's own stop is one: a
 * deadline must abort the call without aborting the chat, and only an HTTP backend hands the
 * signal to a Node API (undici); a simulated call never pays for the AbortController.
 */
export interface LazyAbortSignal extends StopSignal {
  /** Node's AbortSignal for this stop, made on first use. */
  readonly abortSignal: AbortSignal;
}

export class LazyAbortController extends StopController implements LazyAbortSignal {
  private node: AbortController | null = null;

  get abortSignal(): AbortSignal {
    if (this.node === null) {
      this.node = new AbortController();
      if (this.aborted) this.node.abort(this.reason);
    }
    return this.node.signal;
  }

  override abort(reason?: unknown): void {
    if (this.aborted) return;
    super.abort(reason);
    this.node?.abort(this.reason);
  }
}
