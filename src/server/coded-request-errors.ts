import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { bodyTooLargeMessage } from './request-size.js';

/**
 * Every error a client sees carries an `extensions.code`. graphql-js reports a request it cannot
 * run (a variable of the wrong type, a missing required one) as an error without one, and yoga
 * codes parse and validation errors only on its own HTTP path; this plugin gives the first
 * BAD_USER_INPUT on every transport, and `codeRequestErrors` does the second for the transports
 * yoga does not serve itself (enveloped-operation.ts).
 *
 * Only request errors are coded (see `uncodedRequestError`): a resolver's own failure either has a
 * code already or is unexpected, and masked as such.
 */
export function codeRequestErrors(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map((error) => {
    const { http: _http, ...extensions } = error.extensions ?? {};
    if (extensions.code !== undefined && _http === undefined) return error;
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: { ...extensions, code: extensions.code ?? code },
    });
  });
}

/**
 * An error about the request rather than a resolver's: one with no original error, or one with no
 * path (a variable of the wrong type carries the scalar's own error as its original error, but no
 * resolver ran for it: `Int cannot represent non-integer value`).
 */
const uncodedRequestError = (e: GraphQLError) => e.extensions?.code === undefined && (e.originalError === undefined || e.path === undefined);

function coded(result: ExecutionResult): ExecutionResult | null {
  if (!result.errors?.some(uncodedRequestError)) return null;
  return {
    ...result,
    errors: result.errors.map((e) => (uncodedRequestError(e) ? codeRequestErrors([e], 'BAD_USER_INPUT')[0]! : e)),
  };
}

const isSingle = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);

/**
 * yoga refuses a body past the cap that declared no length (chunked) with its own code; one
 * condition gets one code, the one a declared length gets (request-size.ts): BODY_TOO_LARGE.
 */
function bodyTooLarge(result: ExecutionResult, maxBytes: number): ExecutionResult | null {
  if (!result.errors?.some((e) => e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE')) return null;
  return {
    ...result,
    errors: result.errors.map((e) =>
      e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE'
        ? new GraphQLError(bodyTooLargeMessage(maxBytes), { extensions: { ...e.extensions, code: 'BODY_TOO_LARGE' } })
        : e,
    ),
  };
}

export function useCodedRequestErrors(maxRequestBytes: number): Plugin {
  return {
    onResultProcess: ({ result, setResult }) => {
      if (!isSingle(result)) return;
      const fixed = bodyTooLarge(result, maxRequestBytes);
      if (fixed) setResult(fixed);
    },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (!isSingle(result)) return;
        const fixed = coded(result);
        if (fixed) setResult(fixed);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!isSingle(result)) return;
        const fixed = coded(result);
        if (fixed) setResult(fixed);
      },
    }),
  };
}
