import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { Plugin } from 'graphql-yoga';
import { executeEnveloped, prepareEnvelopedOperation, subscribeEnveloped } from './enveloped-operation.js';
import type { OperationGate } from './trusted-documents.js';

/**
 * graphql-sse's single-connection mode on the GraphQL path: the client reserves a stream with PUT,
 * opens it as one event stream carrying its token, then POSTs operations (and DELETEs them) against
 * it. graphql-sse's own handler speaks the protocol; yoga keeps serving everything else on the path
 * (queries, mutations, and the distinct-connection SSE that carries no token).
 */
export interface SingleConnectionOptions {
  readonly path: string;
  readonly gate: OperationGate;
  /** How long a reservation may wait for its event stream before it is dropped. */
  readonly reservationTtlMs?: number;
  /** Reservations waiting for their stream at most; a PUT past it is refused. */
  readonly maxUnclaimedReservations?: number;
}

export function useGraphQLSSESingleConnection(options: SingleConnectionOptions): Plugin {
  const { reservationTtlMs = 30_000, maxUnclaimedReservations = 10_000 } = options;
  const serverContexts = new WeakMap<Request, Record<string, unknown>>();
  let handler: ((request: Request) => Promise<Response>) | undefined;
  // graphql-sse keeps a reservation until its stream has been opened and closed; one nobody opens
  // would stay for good, so a client could fill the memory with PUTs. Unclaimed ones expire.
  const unclaimed = new Map<string, ReturnType<typeof setTimeout>>();

  async function reserve(request: Request): Promise<Response> {
    if (unclaimed.size >= maxUnclaimedReservations) {
      return Response.json(
        { errors: [{ message: 'too many stream reservations are waiting for their stream', extensions: { code: 'TOO_MANY_RESERVATIONS' } }] },
        { status: 503, headers: { 'retry-after': String(Math.ceil(reservationTtlMs / 1000)) } },
      );
    }
    const response = await handler!(request);
    if (response.status === 201) {
      const token = await response.clone().text();
      unclaimed.set(token, setTimeout(() => void expire(token, request.url), reservationTtlMs).unref());
    }
    return response;
  }

  async function expire(token: string, url: string): Promise<void> {
    unclaimed.delete(token);
    // Opening the reserved stream and dropping it at once is how graphql-sse lets one go.
    const stream = await handler!(new Request(url, { headers: { accept: 'text/event-stream', [TOKEN_HEADER_KEY]: token } }));
    await stream.body?.cancel();
  }

  function claim(request: Request, url: URL): void {
    const token = request.headers.get(TOKEN_HEADER_KEY) ?? url.searchParams.get(TOKEN_QUERY_KEY);
    if (token === null || request.headers.get('accept') !== 'text/event-stream') return;
    clearTimeout(unclaimed.get(token));
    unclaimed.delete(token);
  }

  return {
    onYogaInit({ yoga }) {
      handler = createHandler<Record<PropertyKey, unknown>>(
        {
          // onSubscribe has validated the document with yoga's rules already.
          validate: () => [],
          execute: executeEnveloped,
          subscribe: subscribeEnveloped,
          async onSubscribe(req, params) {
            const prepared = await prepareEnvelopedOperation(
              yoga,
              options.gate,
              { ...serverContexts.get(req.raw), request: req.raw },
              params,
            );
            // graphql-sse recognises a ready result only when it has `data`; the errors then reach
            // the client on the operation's own stream, as over WebSocket.
            if (!('document' in prepared)) return { data: null, errors: [...prepared] };
            return prepared as typeof prepared & { contextValue: Record<PropertyKey, unknown> };
          },
        },
        yoga.fetchAPI,
      );
    },
    onRequest({ request, url, serverContext, endResponse }) {
      if (url.pathname !== options.path || !handler || !isSingleConnectionRequest(request, url)) return;
      serverContexts.set(request, serverContext as Record<string, unknown>);
      if (request.method === 'PUT') return reserve(request).then(endResponse);
      claim(request, url);
      return handler(request).then(endResponse);
    },
  };
}

/** Reservations (PUT), cancellations (DELETE) and everything carrying a reserved stream's token. */
function isSingleConnectionRequest(request: Request, url: URL): boolean {
  return (
    request.method === 'PUT' ||
    request.method === 'DELETE' ||
    request.headers.has(TOKEN_HEADER_KEY) ||
    url.searchParams.has(TOKEN_QUERY_KEY)
  );
}
