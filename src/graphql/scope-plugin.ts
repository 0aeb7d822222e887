import type { Plugin } from 'graphql-yoga';
import { GraphQLError, Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql';
import { requireScope } from '../auth/scopes.js';
import { AccessError } from '../auth/principal.js';
import type { GraphQLContext } from './context.js';
import { userError } from './errors.js';

/**
 * Checks, before anything executes, that the caller has the scope every root field of the
 * operation needs (over HTTP, SSE and graphql-ws alike: all run through this envelop pipeline).
 * Limits on the operation's shape are other plugins' work.
 */
export function useScopes(): Plugin<GraphQLContext> {
  // The root fields of a parsed document's operation, walked once: yoga's parser cache gives the
  // same query text the same document, so a chat's subscribe does not walk it again.
  const coordinatesOf = new WeakMap<DocumentNode, Map<string | null | undefined, readonly string[]>>();
  const coordinates = (document: DocumentNode, operationName: string | null | undefined): readonly string[] => {
    let byName = coordinatesOf.get(document);
    let found = byName?.get(operationName);
    if (found === undefined) {
      found = rootCoordinates(document, operationName);
      if (byName === undefined) coordinatesOf.set(document, (byName = new Map()));
      byName.set(operationName, found);
    }
    return found;
  };
  const check = (args: { document: DocumentNode; operationName?: string | null | undefined; contextValue: GraphQLContext }) => {
    try {
      for (const coordinate of coordinates(args.document, args.operationName)) {
        requireScope(args.contextValue.principal, coordinate);
      }
      return null;
    } catch (error) {
      if (error instanceof AccessError) return { errors: [userError(error.code, error.message)] };
      throw error;
    }
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

const ROOT_TYPE = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

/** `Query.arms`, `Mutation.submitFeedback`, …: the root fields the operation selects, fragments included. */
export function rootCoordinates(document: DocumentNode, operationName?: string | null): string[] {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) throw new GraphQLError('the document has no such operation');
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const type = ROOT_TYPE[operation.operation];
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return [...names].map((name) => `${type}.${name}`);
}
