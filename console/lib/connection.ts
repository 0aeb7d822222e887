import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from '../generated/graphql.js';
import { createStore, type Store } from './store.js';

/**
 * The console's one link to the gateway: a graphql-ws client that reconnects forever (with a short
 * capped backoff) and reports its state, so the page can say when the gateway is down. Running
 * subscriptions are resumed by graphql-ws after a reconnect; a chat is not (see `once`), because
 * re-sending it would ask the question again.
 */

/**
 * `refused`: the gateway is up but closed the connection at its start (4403) because the key sent
 * (or the lack of one) is not one it takes: with client keys configured, every operation needs one.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'down' | 'refused';

/** graphql-ws's close code for a connection_init the server refused (here: no valid key). */
const FORBIDDEN = 4403;

export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** When the current status began (ms since the epoch). */
  readonly since: number;
  /** Failed attempts since the link was last up. */
  readonly retries: number;
}

/** An operation's failure, with the gateway's `extensions.code` when it gave one. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SubscriptionHandlers<TResult> {
  next(data: TResult): void;
  error?(error: OperationError): void;
  complete?(): void;
}

export interface Connection {
  readonly state: Store<ConnectionState>;
  readonly apiKey: Store<string | null>;
  /** Runs a query or mutation; rejects with an OperationError. */
  request<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables): Promise<TResult>;
  /**
   * Streams a subscription; returns its stop function. With `once`, a dropped connection ends it
   * with CONNECTION_LOST instead of re-sending it after the reconnect.
   */
  subscribe<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    variables: TVariables,
    handlers: SubscriptionHandlers<TResult>,
    options?: { once?: boolean },
  ): () => void;
  /** Sends `key` as `Authorization: Bearer` from now on (reconnects); null stops sending one. */
  setApiKey(key: string | null): void;
}

const MAX_RETRY_WAIT_MS = 2_000;

export function createConnection(options: { url: string; session: string; apiKey: string | null }): Connection {
  const state = createStore<ConnectionState>({ status: 'connecting', since: Date.now(), retries: 0 });
  const apiKey = createStore<string | null>(options.apiKey);
  const interruptible = new Set<() => void>();
  let closingForNewKey = false;

  const setStatus = (status: ConnectionStatus, retries = state.get().retries) =>
    state.set((previous) =>
      previous.status === status && previous.retries === retries ? previous : { status, since: previous.status === status ? previous.since : Date.now(), retries },
    );

  const client: Client = createClient({
    url: options.url,
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, MAX_RETRY_WAIT_MS) + Math.random() * 250)),
    onNonLazyError: () => undefined,
    connectionParams: () => {
      const key = apiKey.get();
      return { session: options.session, ...(key ? { authorization: `Bearer ${key}` } : {}) };
    },
    on: {
      connected: () => setStatus('connected', 0),
      closed: (event: unknown) => {
        for (const interrupt of [...interruptible]) interrupt();
        if (closingForNewKey) {
          closingForNewKey = false;
          setStatus('connecting', 0);
        } else {
          const status = (event as { code?: unknown } | null)?.code === FORBIDDEN ? 'refused' : 'down';
          const current = state.get();
          setStatus(status, current.status === status ? current.retries + 1 : 0);
        }
      },
    },
  });

  const subscribe: Connection['subscribe'] = (document, variables, handlers, subscribeOptions = {}) => {
    let finished = false;
    const finish = (end: () => void) => {
      if (finished) return;
      finished = true;
      interruptible.delete(interrupt);
      end();
    };
    const stop = client.subscribe<never>(
      { query: document.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result: { data?: unknown; errors?: ReadonlyArray<{ message: string; extensions?: { code?: unknown } }> }) => {
          if (finished) return;
          if (result.errors?.length) {
            const first = result.errors[0]!;
            finish(() => handlers.error?.(new OperationError(String(first.extensions?.code ?? 'ERROR'), first.message)));
            stop();
            return;
          }
          handlers.next(result.data as never);
        },
        error: (error: unknown) => finish(() => handlers.error?.(toOperationError(error))),
        complete: () => finish(() => handlers.complete?.()),
      },
    );
    const interrupt = () =>
      finish(() => {
        stop();
        handlers.error?.(new OperationError('CONNECTION_LOST', 'The connection to the gateway dropped; this stream is lost.'));
      });
    if (subscribeOptions.once) interruptible.add(interrupt);
    return () => finish(stop);
  };

  return {
    state,
    apiKey,
    subscribe,
    request: (document, variables) =>
      new Promise((resolve, reject) => {
        let settled = false;
        const stop = subscribe(document, variables, {
          next: (data) => {
            settled = true;
            resolve(data);
            stop();
          },
          error: reject,
          complete: () => {
            if (!settled) reject(new OperationError('NO_RESULT', 'The gateway completed the operation without a result.'));
          },
        });
      }),
    setApiKey(key) {
      apiKey.set(key);
      closingForNewKey = state.get().status === 'connected';
      client.terminate();
    },
  };
}

function toOperationError(error: unknown): OperationError {
  if (error instanceof OperationError) return error;
  if (Array.isArray(error) && error.length > 0) {
    const first = error[0] as { message?: string; extensions?: { code?: unknown } };
    return new OperationError(String(first.extensions?.code ?? 'ERROR'), first.message ?? 'The operation failed.');
  }
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    const close = error as { code: number; reason: string };
    return new OperationError('CONNECTION_CLOSED', `The gateway closed the connection (${close.code}${close.reason ? `: ${close.reason}` : ''}).`);
  }
  return new OperationError('ERROR', error instanceof Error ? error.message : String(error));
}
