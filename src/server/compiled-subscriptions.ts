import { createRequire, Module } from 'node:module';
import { buildResolveInfo, getFragmentsFromDocument, subscribe as genericSubscribe } from '@graphql-tools/executor';
import {
  defaultFieldResolver,
  GraphQLError,
  getArgumentValues,
  isNonNullType,
  Kind,
  locatedError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type SourceLocation,
  type VariableNode,
} from 'graphql';
import type { compileQuery as CompileQuery, isCompiledQuery as IsCompiledQuery } from 'graphql-jit';
// graphql-js' own rendering of a value in an error message, as graphql-tools' copy renders it.
import { inspect } from 'graphql/jsutils/inspect.js';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

interface GraphqlJit {
  readonly compileQuery: typeof CompileQuery;
  readonly isCompiledQuery: typeof IsCompiledQuery;
  /** graphql-jit's variable coercion, compiled per operation. */
  readonly compileVariableParsing: (schema: GraphQLSchema, definitions: OperationDefinitionNode['variableDefinitions'] & object) => VariableCoercion;
}

let graphqlJit: GraphqlJit | undefined;
/**
 * graphql-jit, loaded with the first document compiled (after COMPILED_AFTER subscriptions of it)
 * rather than at start. Its CommonJS entry, the one its ESM build runs on too (that build imports its
 * CommonJS files by their `.js` names), with graphql's CommonJS build, as every import of graphql here.
 *
 * Its execution module requires fast-json-stringify at load, which brings ajv, ajv-formats, fast-uri
 * and @fastify/merge-json-schemas (~0.7 MB of heap that every mark-compact marks, docs/performance.md,
 * "Tenth pass: start-up library heap"), for its `customJSONSerializer` option only, which is never
 * passed here. So graphql-jit gets a stand-in that requires the real module when called; the
 * stand-in is in require's cache only while graphql-jit loads, so any other require of
 * fast-json-stringify gets the real one.
 */
function loadGraphqlJit(): GraphqlJit {
  if (graphqlJit !== undefined) return graphqlJit;
  const require = createRequire(import.meta.url);
  const jitRequire = createRequire(require.resolve('graphql-jit'));
  const serializer = jitRequire.resolve('fast-json-stringify');
  const standIn = serializer in jitRequire.cache ? undefined : lazyModule(serializer, () => jitRequire('fast-json-stringify') as (...args: unknown[]) => unknown);
  if (standIn !== undefined) jitRequire.cache[serializer] = standIn;
  try {
    const { compileQuery, isCompiledQuery } = require('graphql-jit') as typeof import('graphql-jit');
    const { compileVariableParsing } = require('graphql-jit/dist/variables.js') as Pick<GraphqlJit, 'compileVariableParsing'>;
    return (graphqlJit = { compileQuery, isCompiledQuery, compileVariableParsing });
  } finally {
    if (standIn !== undefined && jitRequire.cache[serializer] === standIn) delete jitRequire.cache[serializer];
  }
}

/** A loaded CommonJS module at `filename` whose export is a function calling `load()`'s on each call. */
function lazyModule(filename: string, load: () => (...args: unknown[]) => unknown): Module {
  const module = new Module(filename);
  module.filename = filename;
  module.loaded = true;
  module.exports = (...args: unknown[]) => load()(...args);
  return module;
}
/** What the compiled coercion returns (its own declaration's type leaves `errors` out of the success case). */
type VariableCoercion = (inputs: Record<string, unknown>) =>
  | { readonly errors: readonly GraphQLError[]; readonly coerced: undefined }
  | { readonly errors: undefined; readonly coerced: Record<string, unknown> };

/**
 * Subscription events executed by code compiled once per document (graphql-jit) instead of by
 * graphql-tools' generic executor, which walks the selection set again for every event: collects
 * the fields, coerces the arguments, completes each value through its type, and wraps each event's
 * result in an async generator of its own. For a chat that was ~25% of the gateway's CPU at
 * concurrency 16 (docs/performance.md, "Fifth pass").
 *
 * The subscribe of a compiled document skips graphql-tools' execution context too (it is on the
 * first token's critical path: with the plan below, 0.12–0.16 ms less of a lone chat's ~0.9 ms before
 * its upstream request, docs/performance.md, "Sixth pass"): the variables are coerced by graphql-jit's
 * code compiled for the operation, the root field, its definition, the fragments and the response
 * path are looked up once per document, and the field's own `subscribe` is called with the argument
 * values graphql-js would give (copied by a plan made per document, `argumentsOf`) and graphql-tools'
 * resolve info. Variables that do not coerce are left to the generic `subscribe`, so a refusal is coded
 * exactly as before; graphql-jit's coercion gives the same values as graphql-tools' for what JSON
 * can carry (test/server/compiled-subscriptions.test.ts; it differs only for an `undefined` field
 * inside an input object, which no transport's JSON has). (graphql-jit's own `subscribe` passes the
 * operation's variables as the field's arguments, which breaks `chat(input: {...})` and any renamed
 * variable, so it is not used.) An error the source stream throws is wrapped as the generic executor
 * wraps it. Anything this path does not cover runs the generic `subscribe` unchanged: a root
 * selection that is not one plain field, a document graphql-jit cannot compile, an abort signal, a
 * custom field or type resolver, error coordinates.
 *
 * envelop's own subscribe (the plugins' onSubscribe hooks, then the result hooks that mask each
 * event's errors) stays around this one: a plugin can only replace the function it calls.
 */
export function useCompiledSubscriptionEvents(options: CompileOptions = {}): Plugin {
  const compiledAfter = options.compiledAfter ?? COMPILED_AFTER;
  // Subscriptions seen per parsed document (yoga's parser cache gives the same text the same one).
  const seen = new WeakMap<DocumentNode, number>();
  // graphql-jit's code for a document holds ~40 KB for the chat's (~200 KB for the metrics one's 283 fields).
  const compiled = new LRUCache<DocumentNode, Map<string | undefined, CompiledSubscription | null>>({
    max: options.maxDocuments ?? MAX_DOCUMENTS,
  });
  const compiledFor = (args: ExecutionArgs): CompiledSubscription | null => {
    const { schema, document } = args;
    const operationName = args.operationName ?? undefined;
    let byName = compiled.get(document);
    let entry = byName?.get(operationName);
    if (entry === undefined) {
      const count = (seen.get(document) ?? 0) + 1;
      seen.set(document, count);
      if (count <= compiledAfter) return null;
      if (byName === undefined) compiled.set(document, (byName = new Map()));
      byName.set(operationName, (entry = compile(schema, document, operationName)));
    }
    return entry !== null && entry.schema === schema ? entry : null;
  };
  const subscribe = (args: ExecutionArgs) => {
    const { fieldResolver, typeResolver } = args;
    const extra = args as ExecutionArgs & { signal?: AbortSignal; schemaCoordinateInErrors?: boolean };
    const entry = fieldResolver == null && typeResolver == null && extra.signal == null && !extra.schemaCoordinateInErrors ? compiledFor(args) : null;
    return entry === null ? genericSubscribe(args) : subscribeCompiled(args, entry);
  };
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe);
    },
  };
}

export interface CompileOptions {
  /** Subscriptions of a document run by the generic executor before it is compiled. */
  readonly compiledAfter?: number;
  /** Documents whose compiled code is kept, least recently used dropped. */
  readonly maxDocuments?: number;
}

/**
 * Compiling costs ~2.6 ms for the chat document, the generic executor ~10 µs per event: a document sent once or twice (GraphiQL, a hand-written query, one varied per
 * request) is not worth compiling, and must not make every subscription pay a compilation.
 */
const COMPILED_AFTER = 3;
/** The gateway's own documents (client, console) are a dozen; more is someone else's churn. */
const MAX_DOCUMENTS = 64;

/**
 * graphql-jit writes code for every field of the selection with its fragments expanded, and its
 * compile time grows with them, all in one turn of the event loop: ~2.6 ms for the chat document
 * (32 fields), ~11 ms for the analyzer's metrics subscription (283), ~170 ms at load ~6 for one of
 * 1,003 that the operation limits' tokens and aliases allow (their cost limit refuses it). The hot
 * documents are the chat's; a larger one (metrics: an event per interval, not per token) keeps the
 * generic executor, so no document stalls the loop for more than a few ms. Fields and fragment
 * spreads, counted with the fragments expanded.
 */
export const MAX_COMPILED_FIELDS = 100;

type EventQuery = (root: unknown, context: unknown, variables: unknown) => ExecutionResult | Promise<ExecutionResult>;

interface CompiledSubscription {
  readonly schema: GraphQLSchema;
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly field: FieldNode;
  readonly event: EventQuery;
  readonly coerce: VariableCoercion;
  readonly fragments: Record<string, FragmentDefinitionNode>;
  readonly rootType: GraphQLObjectType;
  readonly fieldDef: GraphQLField<unknown, unknown>;
  readonly responseName: string;
  /** The field's arguments from the variables, or null when one is a literal (graphql-js builds those). */
  readonly argumentPlan: readonly ArgumentFromVariable[] | null;
  readonly path: { readonly prev: undefined; readonly key: string; readonly typename: string };
}

function compile(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): CompiledSubscription | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName === undefined ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === operationName);
  if (operation === undefined || operation.operation !== 'subscription') return null;
  const [field, ...rest] = operation.selectionSet.selections;
  if (field === undefined || rest.length > 0 || field.kind !== Kind.FIELD || (field.directives?.length ?? 0) > 0) return null;
  // graphql-tools' own table (memoized per document, no prototype), which the resolve info reads too.
  const fragments = getFragmentsFromDocument(document);
  if (!withinFields(operation.selectionSet, fragments, { left: MAX_COMPILED_FIELDS })) return null;
  const rootType = schema.getSubscriptionType();
  const fieldDef = rootType?.getFields()[field.name.value];
  if (rootType == null || fieldDef === undefined) return null;
  const { compileQuery, isCompiledQuery, compileVariableParsing } = loadGraphqlJit();
  const query = compileQuery(schema, document, operationName);
  if (!isCompiledQuery(query)) return null;
  let coerce;
  try {
    coerce = compileVariableParsing(schema, operation.variableDefinitions ?? []);
  } catch {
    // A variable of a type that is not an input type (validation refuses it first).
    return null;
  }
  const responseName = field.alias?.value ?? field.name.value;
  return {
    schema,
    document,
    operation,
    field,
    event: query.query as EventQuery,
    coerce,
    fragments,
    rootType,
    fieldDef,
    responseName,
    argumentPlan: argumentPlanOf(fieldDef, field),
    path: { prev: undefined, key: responseName, typename: rootType.name },
  };
}

/**
 * Whether the selection, fragments expanded, has at most `budget.left` fields; stops counting past
 * it. A fragment spread counts as well, so that even a cycle of spreads (refused by validation
 * before any execution) would end here.
 */
function withinFields(selectionSet: SelectionSetNode, fragments: Readonly<Record<string, FragmentDefinitionNode>>, budget: { left: number }): boolean {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (--budget.left < 0) return false;
      if (selection.selectionSet && !withinFields(selection.selectionSet, fragments, budget)) return false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!withinFields(selection.selectionSet, fragments, budget)) return false;
    } else {
      if (--budget.left < 0) return false;
      const fragment = fragments[selection.name.value];
      if (fragment !== undefined && !withinFields(fragment.selectionSet, fragments, budget)) return false;
    }
  }
  return true;
}

function subscribeCompiled(args: ExecutionArgs, entry: CompiledSubscription) {
  const variables = entry.coerce((args.variableValues ?? {}) as Record<string, unknown>);
  if (variables.errors !== undefined) return genericSubscribe(args);
  const { field, fieldDef, responseName } = entry;
  // What graphql-tools' resolve info reads of its execution context (no signal: see `subscribe`).
  const context = { schema: entry.schema, fragments: entry.fragments, rootValue: args.rootValue, contextValue: args.contextValue, operation: entry.operation, variableValues: variables };
  const info = buildResolveInfo(context as never, fieldDef, [field], entry.rootType, entry.path);
  const refused = (error: unknown): ExecutionResult => ({ errors: [locatedError(error, [field], [responseName])] });
  const events = (stream: unknown): AsyncIterable<ExecutionResult> | ExecutionResult => {
    if (stream instanceof Error) return refused(stream);
    if (!isAsyncIterable(stream)) {
      return refused(new GraphQLError(`Subscription field must return Async Iterable. Received: ${inspect(stream)}.`));
    }
    return new CompiledEvents(stream[Symbol.asyncIterator](), entry, args.contextValue, args.variableValues ?? {});
  };
  try {
    const fieldArgs = argumentsOf(entry, variables.coerced);
    const resolve = fieldDef.subscribe ?? args.subscribeFieldResolver ?? defaultFieldResolver;
    const stream: unknown = resolve(args.rootValue, fieldArgs, args.contextValue, info);
    return isPromise(stream) ? stream.then(events, refused) : events(stream);
  } catch (error) {
    return refused(error);
  }
}

/** One argument of the root field: the variable it is given (null: not given), as graphql-js reads it. */
interface ArgumentFromVariable {
  readonly name: string;
  readonly variable: string | null;
  readonly defaultValue: unknown;
  readonly nonNull: boolean;
}

function argumentPlanOf(fieldDef: GraphQLField<unknown, unknown>, field: FieldNode): readonly ArgumentFromVariable[] | null {
  const plan: ArgumentFromVariable[] = [];
  for (const arg of fieldDef.args) {
    const node = field.arguments?.find((a) => a.name.value === arg.name);
    if (node !== undefined && node.value.kind !== Kind.VARIABLE) return null;
    plan.push({ name: arg.name, variable: node === undefined ? null : (node.value as VariableNode).name.value, defaultValue: arg.defaultValue, nonNull: isNonNullType(arg.type) });
  }
  return plan;
}

/**
 * The field's argument values, as graphql-tools' and graphql-js' `getArgumentValues` make them (a
 * plain object), without their per-call map of the argument nodes: a chat's `chat(input: $input)` is
 * one property copied. Anything graphql-js would refuse (a required argument without a value) is
 * left to it, so it throws its own error.
 */
function argumentsOf(entry: CompiledSubscription, coerced: Record<string, unknown>): Record<string, unknown> {
  const plan = entry.argumentPlan;
  if (plan === null) return getArgumentValues(entry.fieldDef, entry.field, coerced);
  const values: Record<string, unknown> = {};
  for (const arg of plan) {
    if (arg.variable !== null && Object.prototype.hasOwnProperty.call(coerced, arg.variable)) {
      const value = coerced[arg.variable];
      if (value === undefined || (value === null && arg.nonNull)) return getArgumentValues(entry.fieldDef, entry.field, coerced);
      values[arg.name] = value;
    } else if (arg.defaultValue !== undefined) {
      // Not given, or given a variable without a value: the default, else nothing (or graphql-js' refusal).
      values[arg.name] = arg.defaultValue;
    } else if (arg.nonNull) {
      return getArgumentValues(entry.fieldDef, entry.field, coerced);
    }
  }
  return values;
}

/**
 * The source stream mapped through the compiled query, one await per event, ending as the generic
 * executor's stream ends (graphql-tools' `mapAsyncIterator` inside its `flattenAsyncIterable`):
 * once an event fails, the source ends or is returned, nothing more is read; an event or a read
 * that fails returns the source first. The compiled query takes the raw variables (it coerces them
 * itself; coercing coerced values again would not hold for enums).
 */
class CompiledEvents implements AsyncIterableIterator<ExecutionResult> {
  private done = false;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly entry: CompiledSubscription,
    private readonly contextValue: unknown,
    private readonly variables: unknown,
  ) {}

  async next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.done) return { value: undefined, done: true };
    let step;
    try {
      step = await this.source.next();
    } catch (error) {
      throw await this.abandon(wrapSourceError(error, this.entry.operation));
    }
    if (step.done) {
      this.done = true;
      return { value: undefined, done: true };
    }
    let result;
    try {
      // An event whose fields all resolve at once (a chat's) is complete here: no await, no turn.
      result = this.entry.event(step.value, this.contextValue, this.variables);
      if (isPromise(result)) result = await result;
    } catch (error) {
      throw await this.abandon(error);
    }
    return { value: result.errors === undefined ? result : located(result, this.entry.document), done: false };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.done = true;
    try {
      await this.source.return?.();
    } catch (error) {
      throw wrapSourceError(error, this.entry.operation);
    }
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.done = true;
    if (typeof this.source.throw !== 'function') throw await this.abandon(error);
    try {
      await this.source.throw(error);
    } catch (thrown) {
      throw wrapSourceError(thrown, this.entry.operation);
    }
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends this stream and returns the source; resolves with `error`, the one reported. */
  private async abandon(error: unknown): Promise<unknown> {
    this.done = true;
    try {
      await this.source.return?.();
    } catch {
      // The first error is the one reported.
    }
    return error;
  }
}

/**
 * A compiled event's errors as graphql-js' own: graphql-jit's carry their locations but no source
 * positions, so a masked one (yoga rebuilds it from its nodes, or source and positions) would lose
 * them. Located in the document's source, each is what graphql-js' `locatedError` makes. graphql-jit's
 * own errors have no original error; of those, graphql-tools makes a null in a non-null field and a
 * value its scalar or enum cannot serialize plain Errors, masked as unexpected, and the others
 * (an abstract type resolved to no possible type, a list that is not iterable) GraphQLErrors.
 */
function located(result: ExecutionResult, document: DocumentNode): ExecutionResult {
  const source = document.loc?.source;
  if (source === undefined) return result;
  const errors = result.errors!.map((error) =>
    new GraphQLError(error.message, {
      source,
      positions: error.locations?.map((location) => positionOf(source.body, location)),
      path: error.path,
      originalError: error.originalError ?? (GRAPHQL_ERRORS_OF_THE_EXECUTOR.test(error.message) ? undefined : new Error(error.message)),
    }),
  );
  return { ...result, errors };
}

const GRAPHQL_ERRORS_OF_THE_EXECUTOR = /^(Abstract type |Runtime Object type |Expected Iterable, |Expected value of type )/;

/** The offset of a 1-based line and column, lines broken as graphql-js breaks them. */
function positionOf(body: string, location: SourceLocation): number {
  const lineBreak = /\r\n|[\n\r]/g;
  let start = 0;
  for (let line = 1; line < location.line; line++) {
    const match = lineBreak.exec(body);
    if (match === null) break;
    start = match.index + match[0].length;
  }
  return start + location.column - 1;
}

/** As graphql-tools' executor wraps an error from a subscription's source stream. */
function wrapSourceError(error: unknown, operation: OperationDefinitionNode): unknown {
  if (error instanceof AggregateError) {
    return new AggregateError(
      error.errors.map((e: unknown) => wrapOne(e, operation)),
      error.message,
    );
  }
  return wrapOne(error, operation);
}

function wrapOne(error: unknown, operation: OperationDefinitionNode): GraphQLError {
  const cause = error as Error;
  return new GraphQLError(cause.message, { originalError: cause, nodes: [operation] });
}

const isPromise = (value: unknown): value is Promise<unknown> => typeof (value as Promise<unknown> | null)?.then === 'function';

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';

