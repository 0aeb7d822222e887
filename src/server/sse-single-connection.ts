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
export function useGraphQLSSESingleConnection(options: { readonly path: string; readonly gate: OperationGate }): Plugin {
  const serverContexts = new WeakMap<Request, Record<string, unknown>>();
  let handler: ((request: Request) => Promise<Response>) | undefined;
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
