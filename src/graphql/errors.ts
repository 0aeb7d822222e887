import { GraphQLError } from 'graphql';

/**
 * Expected failures carry a stable `extensions.code`; graphql-yoga masks everything else as an
 * unexpected error (and it is logged).
 */
export function userError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** Admin mutations call this first: without the admin token they are refused with FORBIDDEN. */
export function requireAdmin(context: { readonly admin: boolean }): void {
  if (!context.admin) throw userError('FORBIDDEN', 'this mutation needs the admin token (Authorization: Bearer <token>)');
}

interface CodedError {
  readonly code: string;
  readonly message: string;
}

/** Runs `fn`, turning domain errors of the given classes into GraphQL errors with their code. */
export function translateErrors<T>(fn: () => T, ...expected: Array<abstract new (...args: never[]) => CodedError>): T {
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        throw translate(error, expected);
      }) as T;
    }
    return result;
  } catch (error) {
    throw translate(error, expected);
  }
}

function translate(error: unknown, expected: ReadonlyArray<abstract new (...args: never[]) => CodedError>): unknown {
  if (expected.some((cls) => error instanceof cls)) {
    const coded = error as CodedError;
    return userError(coded.code, coded.message);
  }
  return error;
}
