import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The plumbing shared by the fake provider servers: a real HTTP server on 127.0.0.1, port 0, that
 * records every request and answers each with a script taken from a queue, or else from a default
 * script (a value or a function of the request); the script fields, faults and token pacing that
 * every provider's fake has in common.
 */

export interface RecordedRequest {
  /** 0-based position among the requests this server received. */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: any;
  /** Resolves when the TCP connection that carried this request closes. */
  readonly connectionClosed: Promise<void>;
  /** Whether that connection has closed already. */
  connectionIsClosed(): boolean;
  /** Same number for requests that came over the same TCP connection (keep-alive reuse). */
  readonly connectionId: number;
}

export type ScriptSource<S> = S | ((request: RecordedRequest, index: number) => S);

export interface FakeProviderServer<S> {
  /** The API base URL, ending in /v1 (as clients are configured). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Scripts for the next requests, one each, in order; the default applies once they run out. */
  enqueue(...scripts: S[]): void;
  /** Replaces the default script. */
  setScript(source: ScriptSource<S>): void;
  /** Connections currently open to the server. */
  openConnections(): number;
  /** Cuts every connection (stalled ones included) and stops the server. */
  close(): Promise<void>;
}

/** Everything a responder needs to write one scripted response. */
export interface ResponseContext {
  readonly request: RecordedRequest;
  readonly res: ServerResponse;
  /** Aborted when the client goes away or the server closes: stop writing. */
  readonly signal: AbortSignal;
  /** Writes and, with `splitBytes`, writes it as pieces of that many bytes with a pause between. */
  write(text: string): Promise<void>;
  pause(ms: number | undefined): Promise<void>;
  /** Keeps the response open without writing until the client or the server ends it. */
  stall(): Promise<void>;
  /** Destroys the socket mid-response. */
  destroy(): void;
  /** Sends the 200 headers of an event stream at once, as a real provider does before the model produces anything. */
  openEventStream(headers: Readonly<Record<string, string>>): void;
}

/** Faults every fake injects alike, after `afterTokens` content pieces (0: before the first token). */
export type ConnectionFault =
  /** Send nothing more but keep the connection open. */
  | { readonly kind: 'stall'; readonly afterTokens: number }
  /** Destroy the TCP connection. */
  | { readonly kind: 'destroy'; readonly afterTokens: number };

/** The script fields every fake provider understands; `Fault` is its own fault union. */
export interface ProviderScript<Fault extends { readonly afterTokens: number }> {
  /** A non-2xx status answers with the provider's error body instead of a stream. */
  readonly status?: number;
  readonly errorMessage?: string;
  readonly errorType?: string;
  /** `Retry-After` header value sent with an error status (seconds or an HTTP date). */
  readonly retryAfter?: string;
  /** Wait before sending the response headers. */
  readonly headersDelayMs?: number;
  /** Content pieces, one event each. */
  readonly tokens?: readonly string[];
  readonly firstTokenDelayMs?: number;
  readonly tokenDelayMs?: number;
  readonly fault?: Fault;
  /** Write the stream in pieces of this many bytes, to split events (and UTF-8 chars) across reads. */
  readonly splitBytes?: number;
}

/**
 * Writes the content pieces `tokenDelayMs` apart and injects the script's fault once `afterTokens`
 * of them are out: stall and destroy here, the provider's own faults through `writeFault`. Both
 * return true when the fault ended the response (nothing more may be written).
 */
export async function writeTokens<Fault extends { readonly kind: string; readonly afterTokens: number }>(
  context: ResponseContext,
  script: Pick<ProviderScript<ConnectionFault | Fault>, 'tokenDelayMs' | 'fault'>,
  tokens: readonly string[],
  writeToken: (token: string) => Promise<void>,
  writeFault: (fault: Fault) => Promise<boolean>,
): Promise<boolean> {
  for (let i = 0; i <= tokens.length; i++) {
    const fault = script.fault;
    if (fault !== undefined && fault.afterTokens === i) {
      if (fault.kind === 'stall') {
        await context.stall();
        return true;
      }
      if (fault.kind === 'destroy') {
        context.destroy();
        return true;
      }
      if (await writeFault(fault as Fault)) return true;
    }
    if (i === tokens.length) break;
    if (i > 0) await context.pause(script.tokenDelayMs);
    await writeToken(tokens[i]!);
  }
  return false;
}

export async function startProviderServer<S extends { splitBytes?: number }>(options: {
  readonly defaultScript: ScriptSource<S>;
  readonly respond: (context: ResponseContext, script: S) => Promise<void>;
}): Promise<FakeProviderServer<S>> {
  const requests: RecordedRequest[] = [];
  const queue: S[] = [];
  let defaultScript = options.defaultScript;
  let nextSocketId = 0;
  const closing = new AbortController();
  const sockets = new Set<Socket>();
  const socketClosed = new WeakMap<Socket, Promise<void>>();
  const socketIds = new WeakMap<Socket, number>();

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socketIds.set(socket, socketIds.get(socket) ?? nextSocketId++);
    socketClosed.set(
      socket,
      new Promise((resolve) =>
        socket.once('close', () => {
          sockets.delete(socket);
          resolve();
        }),
      ),
    );
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const socket = req.socket;
    let closed = false;
    const connectionClosed = (socketClosed.get(socket) ?? Promise.resolve()).then(() => {
      closed = true;
    });
    const request: RecordedRequest = {
      index: requests.length,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      rawBody,
      body,
      connectionClosed,
      connectionIsClosed: () => closed,
      connectionId: socketIds.get(socket) ?? -1,
    };
    requests.push(request);
    const script =
      queue.shift() ??
      (typeof defaultScript === 'function'
        ? (defaultScript as (r: RecordedRequest, i: number) => S)(request, request.index)
        : defaultScript);

    const clientGone = new AbortController();
    res.on('close', () => clientGone.abort());
    const signal = AbortSignal.any([clientGone.signal, closing.signal]);
    const context: ResponseContext = {
      request,
      res,
      signal,
      async write(text) {
        if (signal.aborted) return;
        const split = script.splitBytes;
        // Each write waits until its bytes are handed to the kernel, so a fault that follows
        // (destroying the socket) cannot discard what was "sent" before it.
        const send = (piece: string | Buffer): Promise<void> =>
          new Promise((resolve) => {
            res.write(piece, () => resolve());
          });
        if (split === undefined || split <= 0) {
          await send(text);
          return;
        }
        const bytes = Buffer.from(text, 'utf8');
        for (let i = 0; i < bytes.length && !signal.aborted; i += split) {
          await send(bytes.subarray(i, i + split));
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
      async pause(ms) {
        if (ms !== undefined && ms > 0) await sleep(ms, undefined, { signal });
      },
      stall: () =>
        new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      destroy: () => {
        socket.destroy();
      },
      openEventStream(headers) {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          ...headers,
        });
        res.flushHeaders();
      },
    };
    try {
      await options.respond(context, script);
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...scripts) => {
      queue.push(...scripts);
    },
    setScript: (source) => {
      defaultScript = source;
    },
    openConnections: () => sockets.size,
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
