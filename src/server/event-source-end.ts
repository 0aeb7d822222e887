import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import type { Plugin } from 'graphql-yoga';

/**
 * A browser's `EventSource` reconnects whenever its stream ends, so a subscription read with one
 * (GET, `Accept: text/event-stream`) was run again about every 3 s after it completed: a chat asked,
 * and paid for, again and again until the page closed it. A GET event stream that ends normally
 * now ends with an `id: complete` line; EventSource's reconnection then carries
 * `Last-Event-ID: complete` and is answered 204, which is how a server tells EventSource to stop.
 * fetch-based SSE clients (graphql-sse, urql, yoga's own) ignore the id; graphql-sse's
 * single-connection stream (it carries a token) is left alone.
 */

const COMPLETED = 'complete';

export function useEventSourceEnd(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'GET' && request.headers.get('last-event-id') === COMPLETED) {
        endResponse(new fetchAPI.Response(null, { status: 204 }));
      }
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (request.method !== 'GET' || response.body === null) return;
      if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return;
      if (request.headers.get(TOKEN_HEADER_KEY) !== null || new URL(request.url).searchParams.has(TOKEN_QUERY_KEY)) return;
      const end = new TextEncoder().encode(`id: ${COMPLETED}\n\n`);
      const body = response.body.pipeThrough(
        new fetchAPI.TransformStream<Uint8Array, Uint8Array>({
          // Spelled out: the fetch API yoga runs on passes nothing through without it.
          transform: (chunk, controller) => controller.enqueue(chunk),
          flush: (controller) => controller.enqueue(end),
        }),
      );
      setResponse(new fetchAPI.Response(body, { status: response.status, headers: response.headers }));
    },
  };
}
