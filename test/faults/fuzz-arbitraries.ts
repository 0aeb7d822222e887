import fc from 'fast-check';

/**
 * fast-check generators for the fuzzer (fuzz.test.ts): GraphQL documents that are mostly close to
 * the real schema (its field and argument names, plausible values, fragments, aliases, directives,
 * variables) with the hostile shapes mixed in (deep nesting, long strings and context paths, many
 * aliases, garbage tokens), variables of any JSON, and graphql-ws frames valid and not.
 */

const FIELD_NAMES = [
  'arms', 'armsInContext', 'contexts', 'models', 'analyzer', 'cache', 'shadow', 'recentRequests', 'request',
  'shadowCall', 'chat', 'metrics', 'submitFeedback', 'submitComparison', 'setShadowRate', 'invalidateCache',
  'id', 'model', 'enabled', 'pulls', 'rewardMean', 'posterior', 'probabilityBest', 'alpha', 'beta', 'mean',
  'lower95', 'upper95', 'arm', 'context', 'windows', 'minute', 'hour', 'sinceStart', 'latencyMs', 'p50', 'p95',
  'p99', 'count', 'requests', 'errors', 'errorRate', 'recommendations', 'status', 'feedback', 'score', 'learned',
  'metrics', 'costUsd', 'text', 'requestId', 'feedbackToken', 'code', 'message', '__typename', 'rate', 'l1', 'l2',
  'entries', 'hitRate', 'nope', '__schema', '__type', 'types', 'name', 'fields',
];
const ARGUMENT_NAMES = ['context', 'limit', 'id', 'requestId', 'intervalMs', 'input', 'prefix', 'rate', 'enabled', 'feedbackToken', 'preferred', 'if', 'x'];
const TYPE_NAMES = ['Query', 'Mutation', 'Subscription', 'Arm', 'ArmInContext', 'ChatRoute', 'ChatDone', 'ChatError', 'ChatChunk', 'Analyzer', 'Nope'];
const ENUMS = ['USER', 'SYSTEM', 'ASSISTANT', 'UP', 'DOWN', 'PRIMARY', 'SHADOW', 'TIE', 'NOPE'];

const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FIELD_NAMES) }, { weight: 1, arbitrary: fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,12}$/) });

const stringLiteral = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('*', 'code', 'code/short', 'a/b/c/d/e/f/g/h/i', '', '   '),
  fc.integer({ min: 1, max: 6_000 }).map((n) => Array(n).fill('a').join('/')),
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
).map((s) => JSON.stringify(s));

/** A GraphQL input value literal, nested up to a few levels, sometimes a list nested very deep. */
const { value } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Number.isInteger(n) ? `${n}.0` : String(n))),
    stringLiteral,
    fc.constantFrom('true', 'false', 'null', '$v', '$input', ...ENUMS),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
    fc.array(fc.tuple(fc.constantFrom('messages', 'role', 'content', 'tags', 'arm', 'requestId', 'score', 'thumbs', 'rating', 'cache', 'maxTokens', 'temperature', 'comment', 'feedbackToken'), tie('value')), { maxLength: 4 })
      .map((fields) => `{ ${fields.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
    fc.integer({ min: 1, max: 30_000 }).map((depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`),
  ),
}));

const args = fc
  .array(fc.tuple(fc.constantFrom(...ARGUMENT_NAMES), value), { maxLength: 3 })
  .map((list) => (list.length === 0 ? '' : `(${list.map(([k, v]) => `${k}: ${v}`).join(', ')})`));

const directive = fc.oneof(
  fc.constant(''),
  fc.constantFrom(' @include(if: true)', ' @skip(if: false)', ' @skip(if: $v)', ' @nope', ' @deprecated'),
  fc.integer({ min: 2, max: 80 }).map((n) => ' @include(if: true)'.repeat(n)),
);

/** A selection set, recursive to a small depth, with the occasional very deep or very wide one. */
const { selectionSet } = fc.letrec<{ selectionSet: string; selection: string }>((tie) => ({
  selection: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.option(name, { nil: undefined }), name, args, directive, fc.option(tie('selectionSet'), { nil: undefined })).map(
      ([alias, field, a, d, sub]) => `${alias ? `${alias}: ` : ''}${field}${a}${d}${sub ? ` ${sub}` : ''}`,
    ),
    fc.tuple(fc.constantFrom(...TYPE_NAMES), tie('selectionSet')).map(([type, sub]) => `... on ${type} ${sub}`),
    fc.constantFrom('...F', '...G', '...Nope'),
  ),
  selectionSet: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.array(tie('selection'), { minLength: 1, maxLength: 5 }).map((items) => `{ ${items.join(' ')} }`),
    fc.integer({ min: 1, max: 6_000 }).map((depth) => `{${' arms {'.repeat(depth)} id${' }'.repeat(depth + 1)}`),
    fc.tuple(fc.integer({ min: 2, max: 3_000 }), fc.constantFrom('arms { probabilityBest }', 'armsInContext { posterior { mean } }', '__typename', 'contexts'))
      .map(([count, field]) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`),
  ),
}));

const variableDefinitions = fc.constantFrom('', '($v: Boolean)', '($input: ChatInput!)', '($v: String, $input: FeedbackInput)', '($v: [[Int]])', '($v: Nope)');

/** A document: one or two operations, maybe fragments, now and then raw garbage. */
export const documentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc
    .tuple(fc.constantFrom('', 'query', 'query Q', 'mutation', 'subscription', 'query Q', 'mutation M'), variableDefinitions, directive, selectionSet, fc.option(selectionSet, { nil: undefined }), fc.option(selectionSet, { nil: undefined }))
    .map(([op, vars, d, body, fragmentF, fragmentG]) =>
      [
        op === '' ? body : `${op}${vars}${d} ${body}`,
        fragmentF ? `fragment F on Query ${fragmentF}` : '',
        fragmentG ? `fragment G on Arm ${fragmentG}` : '',
      ].join('\n'),
    ) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('{', '}', '{ arms { id }', 'query { ...F } fragment F on Query { ...F }', '{ "x" }', '#', '') },
);

export const variablesArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ v: fc.jsonValue({ maxDepth: 3 }), input: fc.jsonValue({ maxDepth: 4 }) }, { requiredKeys: [] }),
  fc.record({
    input: fc.record({
      messages: fc.array(fc.record({ role: fc.constantFrom('USER', 'SYSTEM', 'nope'), content: fc.string({ maxLength: 50 }) }), { maxLength: 3 }),
      tags: fc.option(fc.array(fc.string({ maxLength: 70 }), { maxLength: 10 }), { nil: undefined }),
      maxTokens: fc.option(fc.integer(), { nil: undefined }),
    }, { requiredKeys: ['messages'] }),
  }),
  // Kept as its depth until sent: fast-check prints failing inputs, and a 20,000-deep array would
  // overflow its printer.
  fc.integer({ min: 1, max: 20_000 }).map((depth) => new DeepVariables(depth)),
);

/** `{ v: [[[…1…]]] }` nested `depth` deep. */
export class DeepVariables {
  constructor(readonly depth: number) {}
  toString(): string {
    return `DeepVariables(${this.depth})`;
  }
}

/** The HTTP request for a generated document and variables (deep ones written out as JSON text). */
export function requestOf(query: string, generated: unknown): { query: string; variables?: Record<string, unknown>; rawBody?: string } {
  if (generated instanceof DeepVariables) {
    const deep = `${'['.repeat(generated.depth)}1${']'.repeat(generated.depth)}`;
    return { query, rawBody: `{"query":${JSON.stringify(query)},"variables":{"v":${deep}}}` };
  }
  return { query, variables: generated as Record<string, unknown> | undefined };
}

/** A graphql-ws frame after the handshake: mostly subscribe messages, some other types, some garbage. */
export const frameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc
    .tuple(fc.constantFrom('1', '2', 'x', ''), documentArb, variablesArb, fc.option(fc.string({ maxLength: 10 }), { nil: undefined }))
    .map(([id, query, variables, operationName]) => JSON.stringify({ id, type: 'subscribe', payload: { query, variables, operationName } })) },
  { weight: 2, arbitrary: fc
    .record({ id: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), type: fc.constantFrom('subscribe', 'complete', 'next', 'error', 'ping', 'pong', 'connection_init', 'nope'), payload: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] })
    .map((frame) => JSON.stringify(frame)) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 100 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))) },
);
