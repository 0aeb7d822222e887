import { GraphQLError, type DocumentNode, type execute, type ExecutionArgs, type GraphQLSchema, type subscribe } from 'graphql';
import type { YogaServer } from 'graphql-yoga';
import { codeRequestErrors } from './coded-request-errors.js';
import type { OperationGate, OperationParams } from './trusted-documents.js';
import { withFields } from '../with-fields.js';

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
 * Validation results per schema and parsed document. yoga caches them too, but its cache key is
 * the names of the validation rules joined per request (with GraphQL Armor's rules: ~4% of a chat's
 * CPU at concurrency 1); the parsed document is the same object for the same query text (yoga's
 * parse cache), so a document validates once. Sound because no rule depends on the request: they
 * are graphql-js's, and Armor's configured from the operation limits (operation-limits.ts).
 */
const validated = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly GraphQLError[]>>();

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
    if (error instanceof GraphQLError) return codeRequestErrors([error], 'BAD_REQUEST');
    throw error;
  }
  const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(withFields(initialContext, { params: resolved }));
  let document;
  try {
    document = parse(resolved.query);
  } catch (error) {
    if (error instanceof GraphQLError) return codeRequestErrors([error], 'GRAPHQL_PARSE_FAILED');
    throw error;
  }
  let bySchema = validated.get(schema);
  if (bySchema === undefined) validated.set(schema, (bySchema = new WeakMap()));
  let errors: readonly GraphQLError[];
  const known = bySchema.get(document);
  if (known !== undefined) {
    errors = known;
  } else {
    try {
      errors = validate(schema, document);
    } catch (error) {
      if (error instanceof GraphQLError) return codeRequestErrors([error], 'GRAPHQL_VALIDATION_FAILED');
      throw error;
    }
    bySchema.set(document, errors);
  }
  if (errors.length > 0) return codeRequestErrors(errors, 'GRAPHQL_VALIDATION_FAILED');
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
