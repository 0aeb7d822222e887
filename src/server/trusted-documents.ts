import { readFileSync } from 'node:fs';
import type { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { ConfigError } from '../config/load-config.js';
import { userError } from '../graphql/errors.js';

/**
 * Trusted documents (persisted operations): the gateway executes operations by id from a manifest
 * (GraphQL Code Generator's client preset writes one, `persisted-documents.json`, mapping
 * "sha256:<hex>" to the document text) and, unless told otherwise, refuses any other text.
 *
 * One gate serves every transport: yoga's HTTP/SSE pipeline calls it from `onParams`, graphql-ws and
 * graphql-sse (single connection) call it before parsing. yoga's persisted-operations plugin hooks
 * only the first, so it would leave the WebSocket open to arbitrary operations.
 */

export interface OperationParams {
  readonly query?: string | null | undefined;
  readonly operationName?: string | null | undefined;
  readonly variables?: Readonly<Record<string, unknown>> | null | undefined;
  readonly extensions?: Readonly<Record<string, unknown>> | null | undefined;
  /** A trusted document's id as the GraphQL-over-HTTP persisted documents proposal sends it. */
  readonly documentId?: string | null | undefined;
}

export interface TrustedDocumentsOptions {
  /** Document id → text, as in the codegen manifest. */
  readonly documents: ReadonlyMap<string, string>;
  /** Also accept operations sent as text (a migration aid); false accepts manifest ids only. */
  readonly allowArbitraryOperations: boolean;
}

export interface OperationGate {
  /** Returns params whose `query` is the text to run, or throws a GraphQLError with a code. */
  resolve<P extends OperationParams>(params: P): P & { query: string };
}

/** Reads a manifest at start-up; a missing or malformed one is a configuration error. */
export function loadTrustedDocuments(path: string): ReadonlyMap<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`server.trustedDocuments.manifest: cannot read ${path}: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`server.trustedDocuments.manifest: ${path} must map document ids to document text`);
  }
  const documents = new Map<string, string>();
  for (const [id, text] of Object.entries(raw)) {
    if (typeof text !== 'string') {
      throw new ConfigError(`server.trustedDocuments.manifest: ${path}: document "${id}" is not a string`);
    }
    documents.set(id, text);
  }
  return documents;
}

/** The id a request names: `documentId`, or Apollo's `extensions.persistedQuery.sha256Hash`. */
function requestedId(params: OperationParams): string | undefined {
  if (typeof params.documentId === 'string' && params.documentId !== '') return params.documentId;
  const persisted = params.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  if (persisted && typeof persisted.sha256Hash === 'string' && persisted.sha256Hash !== '') {
    return persisted.sha256Hash.includes(':') ? persisted.sha256Hash : `sha256:${persisted.sha256Hash}`;
  }
  return undefined;
}

export function createOperationGate(trusted: TrustedDocumentsOptions | null): OperationGate {
  return {
    resolve(params) {
      const id = requestedId(params);
      const text = typeof params.query === 'string' ? params.query : '';
      const textMayRun = !trusted || trusted.allowArbitraryOperations;
      if (id !== undefined) {
        const document = trusted?.documents.get(id);
        if (document !== undefined) return { ...params, query: document };
        // Apollo's automatic persisted queries send a hash alone, then on PERSISTED_QUERY_NOT_FOUND
        // the hash with its text: that text runs wherever text may run.
        if (text === '' || !textMayRun) throw notFound(id, trusted !== null);
        return { ...params, query: text };
      }
      if (!textMayRun) throw onlyTrusted();
      return { ...params, query: text };
    },
  };
}

function notFound(id: string, configured: boolean): GraphQLError {
  return userError(
    'PERSISTED_QUERY_NOT_FOUND',
    configured
      ? `no trusted document has the id "${id}"`
      : `no trusted documents are configured (server.trustedDocuments), so the id "${id}" names nothing`,
  );
}

function onlyTrusted(): GraphQLError {
  return userError(
    'PERSISTED_QUERY_REQUIRED',
    'this gateway runs only trusted documents: send a manifest id as documentId or ' +
      'extensions.persistedQuery.sha256Hash instead of the operation text',
  );
}

/**
 * The gate in yoga's own pipeline (HTTP queries and mutations, SSE and multipart subscriptions).
 * yoga must also be told `extraParamNames: ['documentId']`, or it refuses that parameter first.
 */
export function useOperationGate(gate: OperationGate): Plugin {
  return {
    onParams({ params, request, setParams }) {
      // yoga reads only the standard parameters from a GET request's URL.
      const documentId = (params as OperationParams).documentId ?? new URL(request.url).searchParams.get('documentId');
      setParams(gate.resolve({ ...(params as OperationParams), documentId }) as GraphQLParams);
    },
  };
}
