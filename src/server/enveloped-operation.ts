import { GraphQLError, type execute, type ExecutionArgs, type subscribe } from 'graphql';
import type { YogaServer } from 'graphql-yoga';
import type { OperationGate, OperationParams } from './trusted-documents.js';

/**
 * Runs an operation that arrived on a transport yoga does not serve itself (graphql-ws, graphql-sse
 * in single-connection mode) through yoga's envelop pipeline, so every transport shares the schema,
 * context, trusted-document gate, validation rules and error masking.
 */

interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
}

// Only getEnveloped is used, so the instance's server and user context types do not matter.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EnvelopedSource = Pick<YogaServer<any, any>, 'getEnveloped'>;

/**
 * Parses and validates `params` with yoga's enveloped functions. Request errors come back as a list
 * (a throw would close a WebSocket and every subscription on it); the result carries the enveloped
 * execute/subscribe in `rootValue` for {@link executeEnveloped} and {@link subscribeEnveloped}.
 */
export async function prepareEnvelopedOperation(
  yoga: EnvelopedSource,
  gate: OperationGate,
  initialContext: Record<string, unknown>,
  params: OperationParams,
): Promise<ExecutionArgs | readonly GraphQLError[]> {
  let resolved;
  try {
    resolved = gate.resolve(params);
  } catch (error) {
    if (error instanceof GraphQLError) return withoutHttpHints([error]);
    throw error;
  }
  const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
    ...initialContext,
    params: resolved,
  });
  let document;
  try {
    document = parse(resolved.query);
  } catch (error) {
    if (error instanceof GraphQLError) return withoutHttpHints([error]);
    throw error;
  }
  let errors;
  try {
    errors = validate(schema, document);
  } catch (error) {
    if (error instanceof GraphQLError) return withoutHttpHints([error]);
    throw error;
  }
  if (errors.length > 0) return withoutHttpHints(errors);
  return {
    schema,
    operationName: resolved.operationName,
    document,
    variableValues: resolved.variables,
    contextValue: await contextFactory(),
    rootValue: { execute, subscribe } satisfies EnvelopedRoot,
  };
}

export const executeEnveloped = (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args);
export const subscribeEnveloped = (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args);

/** yoga marks request errors with HTTP status hints (`extensions.http`) that only its own HTTP responses use. */
function withoutHttpHints(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((error) => {
    if (!error.extensions?.http) return error;
    const { http: _http, ...extensions } = error.extensions;
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions,
    });
  });
}
