import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/**
 * When no result processor can answer in a media type the client accepts, yoga replies 406 with an
 * empty body, which clients report as a bare status. This plugin, the last result processor, sends
 * the same 406 with a GraphQL error that says what would work, in JSON (what every client parses).
 */
export function useCodedNotAcceptable(): Plugin {
  return {
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (resultProcessor) return;
      const accept = request.headers.get('accept') ?? '(none)';
      const error = isAsyncIterable(result)
        ? {
            message:
              'a subscription needs a streaming transport: WebSocket (graphql-ws protocol) on this path, ' +
              'SSE (Accept: text/event-stream) or multipart (Accept: multipart/mixed); this request accepts ' +
              `only ${accept}`,
            extensions: { code: 'STREAMING_TRANSPORT_REQUIRED' },
          }
        : {
            message: `cannot answer in any media type this request accepts (${accept}): accept application/json`,
            extensions: { code: 'NOT_ACCEPTABLE' },
          };
      setResultProcessor(async (unsent, fetchAPI) => {
        // The subscription has been set up but is never read: end it so it holds nothing.
        if (isAsyncIterable(unsent)) await unsent[Symbol.asyncIterator]().return?.();
        return new fetchAPI.Response(JSON.stringify({ errors: [error] }), {
          status: 406,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        });
      }, 'application/json');
    },
  };
}
