import { GraphQLError } from 'graphql';
import { CodedError } from '../coded-error.js';

/**
 * Expected failures carry a stable `extensions.code`; graphql-yoga masks everything else as an
 * unexpected error (and it is logged).
 */
export function userError(code: string, message: string, details: Readonly<Record<string, unknown>> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...details, code } });
}

/** Runs `fn` (sync or async), turning domain {@link CodedError}s into GraphQL errors with their code. */
export function translateErrors<T>(fn: () => T): T {
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        throw translate(error);
      }) as T;
    }
    return result;
  } catch (error) {
    throw translate(error);
  }
}

function translate(error: unknown): unknown {
  if (!(error instanceof CodedError)) return error;
  const { retryAfter } = error.details;
  // Over HTTP (GraphQL, SSE) the refusal also says when to retry in the header clients know;
  // graphql-yoga applies `extensions.http` to the response and strips it from the body.
  const http = typeof retryAfter === 'number' ? { http: { headers: { 'retry-after': String(retryAfter) } } } : {};
  return userError(error.code, error.message, { ...error.details, ...http });
}

/** A stream whose coded failures mid-stream (not only at subscribe) reach the client with their code. */
export function translateStream<T>(stream: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  const outer: AsyncGenerator<T, void, undefined> = {
    next: () =>
      stream.next().catch((error: unknown) => {
        throw translate(error);
      }),
    return: () => stream.return(undefined),
    throw: (error: unknown) => stream.throw(error),
    [Symbol.asyncIterator]() {
      return outer;
    },
  };
  return outer;
}
