import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';

/**
 * One GraphQL operation sent as text over each transport, with everything that came back: for the
 * fault tests, which send what no typed client would and must see exactly how the server answered
 * (status, every error, a WebSocket's close code and reason).
 */

export interface GraphQLErrorShape {
  readonly message: string;
  readonly extensions?: { readonly code?: string; readonly [key: string]: unknown };
}

export interface OperationResult {
  readonly data?: unknown;
  readonly errors?: readonly GraphQLErrorShape[];
}

export interface OperationOutcome {
  /** HTTP status; 101 for a WebSocket that stayed open through the operation. */
  readonly status: number;
  /** Every result (one for a query, one per event for a subscription); request errors are one result. */
  readonly results: readonly OperationResult[];
  /** Set when the socket was closed during the operation. */
  readonly closed?: { readonly code: number; readonly reason: string };
}

export interface OperationRequest {
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>>;
  readonly operationName?: string;
  /** The JSON body as sent over HTTP, instead of one made from the fields above. */
  readonly rawBody?: string;
}

const bodyOf = ({ rawBody, ...request }: OperationRequest) => rawBody ?? JSON.stringify(request);

/** POST as application/json, answered as application/graphql-response+json. */
export async function overHttp(url: string, request: OperationRequest, options: { fetch?: typeof fetch } = {}): Promise<OperationOutcome> {
  const response = await (options.fetch ?? fetch)(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: bodyOf(request),
  });
  const text = await response.text();
  let body: OperationResult;
  try {
    body = JSON.parse(text) as OperationResult;
  } catch {
    body = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
  return { status: response.status, results: [body] };
}

/**
 * POST answered as text/event-stream (yoga's SSE); every `next` event is a result. A stream still
 * open after `settleMs` (a subscription that never completes) is cut: what came is the answer.
 */
export async function overSse(url: string, request: OperationRequest, options: { settleMs?: number; fetch?: typeof fetch } = {}): Promise<OperationOutcome> {
  const response = await (options.fetch ?? fetch)(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: bodyOf(request),
  });
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    return { status: response.status, results: [JSON.parse(await response.text()) as OperationResult] };
  }
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = setTimeout(() => void reader.cancel().catch(() => {}), options.settleMs ?? 30_000);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // cut at the deadline
  } finally {
    clearTimeout(deadline);
  }
  const results: OperationResult[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n');
    if (!lines.includes('event: next')) continue;
    const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart());
    results.push(JSON.parse(data.join('\n')) as OperationResult);
  }
  return { status: response.status, results };
}

/**
 * graphql-transport-ws by hand: connection_init, one subscribe, then every next/error until
 * complete, error or close. `frames` replaces the subscribe message with raw frames (sent as is,
 * after the ack), for protocol fuzzing.
 */
export function overWebSocket(
  wsUrl: string,
  request: OperationRequest | { frames: readonly (string | Buffer)[] },
  options: { connectionParams?: Record<string, unknown>; headers?: Record<string, string>; settleMs?: number } = {},
): Promise<OperationOutcome & { readonly opened: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { headers: options.headers });
    const results: OperationResult[] = [];
    // Raw frames end early once every subscribe among them has completed or failed.
    const pending = new Set<string>();
    let opened = false;
    let settled = false;
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (closed?: { code: number; reason: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(settleTimer);
      resolve({ status: opened ? 101 : 0, results, opened, ...(closed ? { closed } : {}) });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    };
    const settle = (id: string | undefined) => {
      if (!('frames' in request)) return finish();
      if (id !== undefined) pending.delete(id);
      if (pending.size === 0) finish();
    };
    socket.on('unexpected-response', (_req, res) => {
      settled = true;
      resolve({ status: res.statusCode ?? 0, results, opened: false });
      socket.terminate();
    });
    socket.on('error', (error) => {
      if (!settled && !opened) reject(error);
    });
    socket.on('open', () => {
      opened = true;
      socket.send(JSON.stringify({ type: 'connection_init', payload: options.connectionParams ?? {} }));
    });
    socket.on('close', (code, reason) => finish({ code, reason: reason.toString() }));
    socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as { type: string; id?: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        if ('frames' in request) {
          for (const frame of request.frames) {
            try {
              const parsed = JSON.parse(frame.toString()) as { type?: unknown; id?: unknown };
              if (parsed.type === 'subscribe' && typeof parsed.id === 'string') pending.add(parsed.id);
            } catch {
              // not JSON: the server's answer to it is a close, or nothing
            }
            socket.send(frame);
          }
          // Raw frames may never complete: what came back within settleMs is the answer.
          settleTimer = setTimeout(() => finish(), options.settleMs ?? 500);
        } else {
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: request }));
        }
      } else if (message.type === 'next') {
        results.push(message.payload as OperationResult);
      } else if (message.type === 'error') {
        results.push({ errors: message.payload as GraphQLErrorShape[] });
        settle(message.id);
      } else if (message.type === 'complete') {
        settle(message.id);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      }
    });
  });
}

/** Every error of every result. */
export function errorsOf(outcome: OperationOutcome): GraphQLErrorShape[] {
  return outcome.results.flatMap((result) => [...(result.errors ?? [])]);
}

/** Runs `work` and reports the longest time this process's event loop could not run a timer meanwhile. */
export async function withLoopWatch<T>(work: () => Promise<T>): Promise<{ result: T; worstBlockMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    const result = await work();
    return { result, worstBlockMs: delay.max / 1e6 };
  } finally {
    delay.disable();
  }
}
