import { Kind, type DocumentNode, type GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Plugin } from 'graphql-yoga';
import type { CodedError } from '../coded-error.js';
import { codedGraphQLError } from '../graphql/errors.js';

/**
 * A chat refused while the instance is full is refused before any work is done for it: no parse,
 * validation, context or execution, only a lookup of its document. Under a burst of thousands of
 * subscribe messages that work (a fraction of a millisecond each) queued ahead of admission, so the
 * last refusals went out seconds after their messages arrived (issue 14); now the refusal costs a
 * lookup and a write.
 *
 * Only a document that already went the whole way (operation limits, trusted-document gate, parse,
 * validation) as a subscription to `chat`, its only operation, is known; any other document goes the
 * usual way and, if it is a chat, is refused by admission in the chat gate. Admission itself stays
 * in one place: this asks the capacity (src/limits/capacity.ts) whether it would refuse now, and
sends the refusal it would give.
 * A known document refused here is refused with OVERLOADED even when it would have failed later
 * for another reason (a missing scope, bad variables): those refusals come once there is room.
 */

/** Documents remembered, and the longest remembered: a bounded memory of the clients' chat documents. */
const MAX_DOCUMENTS = 256;
const MAX_DOCUMENT_CHARS = 16_384;

export interface EarlyChatRefusal {
  /** The GraphQL error refusing an operation with this document now, or null to go the usual way. */
  refusal(query: unknown): GraphQLError | null;
  /** Notes a document that passed every check, when it is a chat subscription. */
  learn(query: unknown, document: DocumentNode): void;
}

export function createEarlyChatRefusal(deps: { readonly chatRefusal: () => CodedError | null }): EarlyChatRefusal {
  const chatDocuments = new LRUCache<string, true>({ max: MAX_DOCUMENTS });
  // The capacity's refusals are made once per reason, and so is their GraphQL form.
  const asGraphQL = new WeakMap<CodedError, GraphQLError>();
  return {
    refusal(query) {
      if (typeof query !== 'string' || !chatDocuments.has(query)) return null;
      const refusal = deps.chatRefusal();
      if (!refusal) return null;
      let error = asGraphQL.get(refusal);
      if (!error) asGraphQL.set(refusal, (error = codedGraphQLError(refusal)));
      return error;
    },
    learn(query, document) {
      if (typeof query !== 'string' || query.length > MAX_DOCUMENT_CHARS || chatDocuments.has(query)) return;
      if (isChatSubscription(document)) chatDocuments.set(query, true);
    },
  };
}

/** A document of one operation, a subscription selecting `chat` at its root. */
export function isChatSubscription(document: DocumentNode): boolean {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) return false;
  const [operation] = operations;
  return (
    operation!.operation === 'subscription' &&
    operation!.selectionSet.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'chat')
  );
}

/**
 * The yoga side: refuses over HTTP and SSE as soon as the request's parameters are read, and
 * learns every document that reaches subscribe on any transport (graphql-ws runs yoga's envelop
 * pipeline too, src/server/enveloped-operation.ts).
 */
export function useEarlyChatRefusal(early: EarlyChatRefusal): Plugin {
  return {
    onParams({ params, setResult }) {
      const refusal = early.refusal(params.query);
      if (refusal) setResult({ errors: [refusal] });
    },
    onSubscribe({ args }) {
      const params = (args.contextValue as { params?: { query?: unknown } }).params;
      early.learn(params?.query, args.document);
    },
  };
}
