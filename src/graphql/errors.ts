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
  return error instanceof CodedError ? codedGraphQLError(error) : error;
}

/** A domain {@link CodedError} as the GraphQL error every transport sends for it. */
export function codedGraphQLError(error: CodedError): GraphQLError {
  const { retryAfter } = error.details;
  // Over HTTP (GraphQL, SSE) the refusal also says when to retry in the header clients know;
  // graphql-yoga applies `extensions.http` to the response and strips it from the body.
  const http = typeof retryAfter === 'number' ? { http: { headers: { 'retry-after': String(retryAfter) } } } : {};
  return userError(error.code, error.message, { ...error.details, ...http });
}

/** A stream whose coded failures mid-stream (not only at subscribe) reach the client with their code. */
export function translateStream<T>(stream: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  return new TranslatedStream(stream);
}

const rethrowTranslated = (error: unknown): never => {
  throw translate(error);
};

/** One object per stream, no closure per stream or per read (memory per waiting subscription). */
class TranslatedStream<T> implements AsyncGenerator<T, void, undefined> {
  constructor(private readonly stream: AsyncGenerator<T, void, undefined>) {}

  next(): Promise<IteratorResult<T, void>> {
    return this.stream.next().catch(rethrowTranslated);
  }

  return(): Promise<IteratorResult<T, void>> {
    return this.stream.return(undefined);
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    return this.stream.throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
