import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { ExecutionResult } from 'graphql';

/**
 * Subscriptions over HTTP multipart responses, as Apollo Client's HttpLink (and urql) speak them:
 * the "multipart HTTP protocol for GraphQL subscriptions" (`subscriptionSpec=1.0`). Each event is
 * one `application/json` part holding `{"payload": <result>}`; an empty `{}` part is a heartbeat
 * that keeps proxies from closing an idle stream; the closing boundary ends the subscription.
 *
 * graphql-yoga serves multipart only for @defer/@stream (its parts are incremental-delivery
 * patches) and answers 406 to a subscription that asks for it; this plugin runs after yoga's
 * result processors and takes over only that case.
 */

const BOUNDARY = 'graphql';

/** The media types of an Accept header, in the client's order, without parameters. */
export function acceptedMediaTypes(request: Request): string[] {
  const accept = request.headers.get('accept');
  if (!accept) return [];
  return accept
    .split(',')
    .map((part) => part.split(';')[0]!.trim().toLowerCase())
    .filter(Boolean);
}

/** `heartbeatMs`: the protocol's period between heartbeats, 5 s. */
export function useMultipartSubscriptions({ heartbeatMs = 5_000 }: { heartbeatMs?: number } = {}): Plugin {
  return {
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (resultProcessor || !isAsyncIterable(result)) return;
      if (!acceptedMediaTypes(request).includes('multipart/mixed')) return;
      setResultProcessor(
        (input, fetchAPI) => multipartResponse(input as AsyncIterable<ExecutionResult>, fetchAPI, heartbeatMs),
        'multipart/mixed',
      );
    },
  };
}

function multipartResponse(
  results: AsyncIterable<ExecutionResult>,
  fetchAPI: { ReadableStream: typeof ReadableStream; Response: typeof Response; TextEncoder: typeof TextEncoder },
  heartbeatMs: number,
): Response {
  const encoder = new fetchAPI.TextEncoder();
  const part = (json: string) => encoder.encode(`\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${json}\r\n--${BOUNDARY}`);
  const iterator = results[Symbol.asyncIterator]();
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const stream = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(`\r\n--${BOUNDARY}`));
      heartbeat = setInterval(() => controller.enqueue(part('{}')), heartbeatMs);
    },
    async pull(controller) {
      try {
        const { done, value } = await iterator.next();
        if (done) {
          clearInterval(heartbeat);
          controller.enqueue(encoder.encode('--\r\n'));
          controller.close();
          return;
        }
        controller.enqueue(part(JSON.stringify({ payload: withoutInternals(value) })));
      } catch (error) {
        // A failure of the stream itself (not a GraphQL error in a result) is a transport error:
        // the protocol sends it with a null payload, then ends.
        clearInterval(heartbeat);
        const message = error instanceof Error && 'extensions' in error ? error.message : 'Unexpected error.';
        controller.enqueue(part(JSON.stringify({ payload: null, errors: [{ message }] })));
        controller.enqueue(encoder.encode('--\r\n'));
        controller.close();
      }
    },
    async cancel() {
      clearInterval(heartbeat);
      // The client went away: returning the iterator ends the subscription (and its model call).
      await iterator.return?.();
    },
  });
  return new fetchAPI.Response(stream, {
    status: 200,
    headers: {
      'content-type': `multipart/mixed; boundary="${BOUNDARY}"; subscriptionSpec="1.0"`,
      'cache-control': 'no-cache',
    },
  });
}

/** Results and their errors may carry yoga-internal extensions (HTTP status hints) not meant for clients. */
function withoutInternals(result: ExecutionResult): ExecutionResult {
  const errors = result.errors?.map((error) => {
    const { http: _http, unexpected: _unexpected, ...extensions } = (error.toJSON().extensions ?? {}) as Record<string, unknown>;
    return { ...error.toJSON(), extensions: Object.keys(extensions).length > 0 ? extensions : undefined };
  });
  const { http: _http, ...extensions } = result.extensions ?? {};
  return {
    ...result,
    ...(errors ? { errors } : {}),
    extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
  } as ExecutionResult;
}
