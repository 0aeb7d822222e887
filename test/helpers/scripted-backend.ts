import { UpstreamError, type CompletionEvent, type CompletionRequest, type ModelBackend } from '../../src/models/backend.js';

/** A promise with its resolve function outside, for tests that release things in causal order. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves with `promise`, or rejects as soon as `signal` aborts (so a blocked model call can be cancelled). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export interface ScriptedBackendOptions {
  /** Tokens streamed, in order (default: 12 words, each followed by a space). */
  readonly tokens?: readonly string[];
  readonly pricing?: { inputPer1k: number; outputPer1k: number };
  /** Awaited before the first token (e.g. a gate the test opens). */
  readonly beforeFirstToken?: () => Promise<void>;
  /** Awaited after the first token, before the rest. */
  readonly afterFirstToken?: () => Promise<void>;
  /** Fails before the first token with this code instead of answering. */
  readonly failWith?: 'UPSTREAM_HTTP_ERROR';
}

export interface ScriptedBackend extends ModelBackend {
  /** Calls started so far. */
  readonly calls: () => number;
  /** Resolves when the next call starts. */
  nextCall(): Promise<void>;
}

/** A model at the boundary of our reach, whose every step the test controls. */
export function createScriptedBackend(id: string, options: ScriptedBackendOptions = {}): ScriptedBackend {
  const tokens = options.tokens ?? Array.from({ length: 12 }, (_, i) => `word${i} `);
  let calls = 0;
  let started = deferred();
  async function* stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
    calls += 1;
    started.resolve();
    started = deferred();
    if (options.beforeFirstToken) await untilAborted(options.beforeFirstToken(), request.signal);
    if (options.failWith) {
      throw new UpstreamError(options.failWith, `scripted model ${id} failed`, { retryable: false, status: 500 });
    }
    for (const [i, text] of tokens.entries()) {
      request.signal.throwIfAborted();
      yield { type: 'token', text };
      if (i === 0 && options.afterFirstToken) await untilAborted(options.afterFirstToken(), request.signal);
    }
    yield { type: 'usage', promptTokens: 10, completionTokens: tokens.length, estimated: false };
    yield { type: 'finish', reason: 'stop' };
  }
  return {
    id,
    provider: 'scripted',
    pricing: options.pricing ?? { inputPer1k: 0.001, outputPer1k: 0.002 },
    stream,
    calls: () => calls,
    nextCall: () => started.promise,
  };
}
