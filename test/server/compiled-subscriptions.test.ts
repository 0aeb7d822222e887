import { GraphQLError, type ExecutionResult, type GraphQLResolveInfo } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { MAX_COMPILED_FIELDS, useCompiledSubscriptionEvents } from '../../src/server/compiled-subscriptions.js';

/**
 * The compiled path must answer every subscription exactly as graphql-tools' generic executor does:
 * each case runs through two real yoga instances (envelop, error masking), one with the plugin and
 * one without, and compares everything that came back.
 */

const typeDefs = /* GraphQL */ `
  input Ask {
    text: String!
    mood: Mood = CALM
    f: Float
    tags: [String!]
    deep: Deep
  }
  input Deep {
    x: Int = 3
    lists: [[Int]]
    id: ID
  }
  enum Mood {
    CALM
    LOUD
  }
  union Event = Word | End
  type Word {
    text: String!
    index: Int!
    mood: Mood!
    shout(times: Int!): String!
    broken: String
    missing: String!
    coded: String
    fraction: Int
    executedBy: String!
    later: String!
  }
  type End {
    words: Int!
  }
  type Query {
    ok: Boolean
  }
  type Subscription {
    talk(ask: Ask!, count: Int = 2): Event!
    refused(code: String!): Event!
    failsMidway: Event!
    notAStream: Event!
    plain: String!
    echo(ask: Ask, n: Int = 4, mood: Mood, lists: [[Int]], on: Boolean): Word!
    later(code: String!): Event!
  }
`;

type Word = { kind: 'word'; text: string; index: number; mood: string };

async function* words(text: string, mood: string, count: number) {
  for (let index = 0; index < count; index++) yield { kind: 'word', text, index, mood } satisfies Word;
  yield { kind: 'end', words: count };
}

const resolvers = {
  Event: { __resolveType: (event: { kind: string }) => (event.kind === 'word' ? 'Word' : 'End') },
  Word: {
    shout: (word: Word, { times }: { times: number }) => word.text.toUpperCase().repeat(times),
    broken: () => {
      throw new Error('database password is hunter2');
    },
    missing: () => null,
    coded: () => {
      throw new GraphQLError('no such word', { extensions: { code: 'WORD_UNKNOWN' } });
    },
    fraction: () => 1.5,
    later: async (word: Word) => `${word.text} later`,
    // Which executor ran this field, from its own call stack (graphql-jit's code is built with new Function).
    executedBy: () => (new Error().stack!.includes('eval at compileQuery') ? 'compiled' : 'generic'),
  },
  Subscription: {
    talk: {
      subscribe: (_: unknown, { ask, count }: { ask: { text: string; mood: string }; count: number }) => words(ask.text, ask.mood, count),
      resolve: (event: unknown) => event,
    },
    refused: {
      subscribe: (_: unknown, { code }: { code: string }) => {
        throw new GraphQLError('not now', { extensions: { code } });
      },
    },
    failsMidway: {
      subscribe: async function* () {
        yield { kind: 'end', words: 0 };
        throw new GraphQLError('the stream broke', { extensions: { code: 'STREAM_BROKE' } });
      },
      resolve: (event: unknown) => event,
    },
    notAStream: { subscribe: () => ({ not: 'iterable' }) },
    // What the subscribe resolver was given, as the text of its one event.
    echo: {
      subscribe: async function* (root: unknown, args: unknown, _context: unknown, info: GraphQLResolveInfo) {
        const seen = {
          args,
          variables: info.variableValues,
          fieldName: info.fieldName,
          fieldNodes: info.fieldNodes.map((node) => node.loc?.start),
          returnType: String(info.returnType),
          parentType: String(info.parentType),
          path: info.path,
          operation: info.operation.name?.value ?? null,
          fragments: Object.keys(info.fragments),
          rootValue: root === undefined ? 'undefined' : typeof root,
          prototypes: [Object.getPrototypeOf(args) === Object.prototype, Object.getPrototypeOf(info.variableValues) === Object.prototype],
        };
        yield { kind: 'word', text: JSON.stringify(seen), index: 0, mood: 'CALM' } satisfies Word;
      },
      resolve: (event: unknown) => event,
    },
    // Refuses after a turn, as the chat resolver does (its gate is async).
    later: {
      subscribe: async (_: unknown, { code }: { code: string }) => {
        await Promise.resolve();
        if (code === 'NONE') return undefined;
        throw code === 'PLAIN' ? new Error('secret detail') : new GraphQLError('later not', { extensions: { code } });
      },
    },
    plain: {
      subscribe: async function* () {
        yield { plain: 'one' };
        yield { plain: 'two' };
      },
    },
  },
};

const yogaWith = (compiled: boolean) =>
  createYoga({
    logging: false,
    schema: createSchema({ typeDefs, resolvers }),
    plugins: compiled ? [useCompiledSubscriptionEvents({ compiledAfter: 0 })] : [],
  });

const generic = yogaWith(false);
const compiled = yogaWith(true);

interface Outcome {
  results: unknown[];
  thrown?: unknown;
}

/** What graphql-ws and graphql-sse get from yoga for one operation (enveloped-operation.ts). */
async function run(yoga: typeof generic, query: string, variables?: Record<string, unknown>, take = Infinity): Promise<Outcome> {
  const { schema, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({});
  const document = parse(query);
  expect(validate(schema, document)).toEqual([]);
  const result = await subscribe({ schema, document, variableValues: variables, contextValue: await contextFactory() });
  if (!(Symbol.asyncIterator in result)) return { results: [json(result)] };
  const outcome: Outcome = { results: [] };
  const iterator = (result as AsyncIterableIterator<ExecutionResult>)[Symbol.asyncIterator]();
  try {
    while (outcome.results.length < take) {
      const step = await iterator.next();
      if (step.done) break;
      outcome.results.push(json(step.value));
    }
    if (outcome.results.length >= take) {
      outcome.results.push({ returned: await iterator.return?.() });
      outcome.results.push({ afterReturn: await iterator.next() });
    }
  } catch (error) {
    outcome.thrown = { message: (error as Error).message, extensions: (error as GraphQLError).extensions, json: json(error) };
  }
  return outcome;
}

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

async function expectSame(query: string, variables?: Record<string, unknown>, take?: number): Promise<Outcome> {
  const expected = await run(generic, query, variables, take);
  const actual = await run(compiled, query, variables, take);
  expect(actual).toEqual(expected);
  return actual;
}

describe('subscription events through the compiled query', () => {
  it('runs each event through the compiled query with the plugin, and only with it', async () => {
    const query = 'subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { executedBy } } }';
    expect((await run(compiled, query)).results[0]).toEqual({ data: { talk: { executedBy: 'compiled' } } });
    expect((await run(generic, query)).results[0]).toEqual({ data: { talk: { executedBy: 'generic' } } });
  });

  it('leaves a document with more fields and spreads than MAX_COMPILED_FIELDS (fragments expanded) to the generic executor', async () => {
    // talk, the spread of W, executedBy and `count` aliases of text: count + 3.
    const withFields = (count: number) =>
      `subscription { talk(ask: { text: "a" }, count: 1) { ...W } } fragment W on Word { executedBy ${Array.from({ length: count }, (_, i) => `f${i}: text`).join(' ')} }`;
    const query = withFields(MAX_COMPILED_FIELDS - 2);
    const small = withFields(MAX_COMPILED_FIELDS - 3);
    expect((await run(compiled, query)).results[0]).toMatchObject({ data: { talk: { executedBy: 'generic' } } });
    expect((await run(compiled, small)).results[0]).toMatchObject({ data: { talk: { executedBy: 'compiled' } } });
  });

  it("compiles a document from its fourth subscription on: one sent once or twice is not worth a compilation", async () => {
    const yoga = createYoga({ logging: false, schema: createSchema({ typeDefs, resolvers }), plugins: [useCompiledSubscriptionEvents()] });
    const query = 'subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { executedBy } } }';
    const executors = [];
    for (let i = 0; i < 5; i++) executors.push((await run(yoga, query)).results[0]);
    expect(executors.map((r) => (r as { data: { talk: { executedBy: string } } }).data.talk.executedBy)).toEqual([
      'generic',
      'generic',
      'generic',
      'compiled',
      'compiled',
    ]);
  });

  it('answers variables, defaults, enums, literal and renamed arguments, aliases, fragments, nested arguments and async fields alike', async () => {
    const selection = '__typename ... on Word { text index mood loud: shout(times: 2) } ... on End { words }';
    const byVariable = await expectSame(`subscription ($ask: Ask!) { talk(ask: $ask) { ${selection} } }`, { ask: { text: 'hi', mood: 'LOUD' } });
    expect(byVariable.results).toEqual([
      { data: { talk: { __typename: 'Word', text: 'hi', index: 0, mood: 'LOUD', loud: 'HIHI' } } },
      { data: { talk: { __typename: 'Word', text: 'hi', index: 1, mood: 'LOUD', loud: 'HIHI' } } },
      { data: { talk: { __typename: 'End', words: 2 } } },
    ]);
    await expectSame(`subscription { said: talk(ask: { text: "yo" }, count: 1) { ${selection} } }`);
    await expectSame(`subscription Named($a: Ask!, $n: Int) { talk(ask: $a, count: $n) { ${selection} } }`, { a: { text: 'x' }, n: 3 });
    await expectSame(
      `subscription ($a: Ask!, $with: Boolean!) { talk(ask: $a) { ...W ... on End { words @include(if: $with) } } } fragment W on Word { text @skip(if: $with) index }`,
      { a: { text: 'x' }, with: true },
    );
    await expectSame('subscription { plain }');
    const later = await expectSame('subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { later } } }');
    expect(later.results[0]).toEqual({ data: { talk: { later: 'a later' } } });
  });

  it('codes and masks the same errors: per-event resolver errors (partial data, coded, unserialisable), null in a non-null field, refusals at subscribe, bad variables', async () => {
    const partial = await expectSame('subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { text broken } } }');
    expect(partial.results[0]).toMatchObject({ data: { talk: { text: 'a', broken: null } }, errors: [{ message: 'Unexpected error.', path: ['talk', 'broken'] }] });
    const coded = await expectSame('subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { text coded fraction } } }');
    expect(coded.results[0]).toMatchObject({
      data: { talk: { text: 'a', coded: null, fraction: null } },
      errors: [{ message: 'no such word', extensions: { code: 'WORD_UNKNOWN' } }, { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    const nonNull = await expectSame('subscription { talk(ask: { text: "a" }, count: 1) { ... on Word { text missing } } }');
    expect(nonNull.results[0]).toMatchObject({ data: null, errors: [{ path: ['talk', 'missing'] }] });
    const refused = await expectSame('subscription { refused(code: "BUSY") { __typename } }');
    expect(refused.results).toMatchObject([{ errors: [{ message: 'not now', extensions: { code: 'BUSY' }, path: ['refused'] }] }]);
    const notAStream = await expectSame('subscription { notAStream { __typename } }');
    expect(notAStream.results).toMatchObject([{ errors: [{ path: ['notAStream'] }] }]);
    const badVariables = await expectSame('subscription ($ask: Ask!) { talk(ask: $ask) { __typename } }', { ask: { mood: 'SAD' } });
    expect(badVariables.results).toMatchObject([{ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }, { extensions: { code: 'BAD_USER_INPUT' } }] }]);
  });

  it('ends as the generic stream ends: a source that throws midway, and a return before the end', async () => {
    const broke = await expectSame('subscription { failsMidway { ... on End { words } } }');
    expect(broke.results).toEqual([{ data: { failsMidway: { words: 0 } } }]);
    expect(broke.thrown).toMatchObject({ message: 'the stream broke' });
    const returned = await expectSame('subscription { talk(ask: { text: "a" }, count: 5) { __typename } }', undefined, 2);
    expect(returned.results.slice(2)).toEqual([{ returned: { done: true } }, { afterReturn: { done: true } }]);
  });

  it('gives the subscribe resolver the same arguments and resolve info: variables coerced with defaults, lists, enums, nested inputs', async () => {
    const query = `subscription Echo($ask: Ask, $n: Int, $mood: Mood = LOUD, $lists: [[Int]], $on: Boolean!) {
      echo(ask: $ask, n: $n, mood: $mood, lists: $lists) { ...Seen text @include(if: $on) }
    } fragment Seen on Word { index }`;
    const cases: Record<string, unknown>[] = [
      { on: true },
      { on: true, ask: { text: 'a' }, n: null, mood: null },
      { on: false, ask: { text: 'a', mood: 'LOUD', f: 2, tags: 'one', deep: {} }, n: 7, lists: 5 },
      { on: true, ask: { text: 'a', tags: ['x', 'y'], deep: { x: null, lists: [1, [2, null], null], id: 12 } }, lists: [[1], null, 3] },
      { on: true, ask: { text: 'a', deep: null }, extra: 'not declared' },
    ];
    for (const variables of cases) {
      const outcome = await expectSame(query, variables);
      expect(outcome.results).toHaveLength(1);
    }
    const seen = await expectSame(query, cases[3]);
    expect(JSON.parse((seen.results[0] as { data: { echo: { text: string } } }).data.echo.text)).toMatchObject({
      args: { ask: { text: 'a', mood: 'CALM', tags: ['x', 'y'], deep: { x: null, lists: [[1], [2, null], null], id: '12' } }, n: 4, mood: 'LOUD', lists: [[1], null, [3]] },
      fieldName: 'echo',
      path: { key: 'echo', typename: 'Subscription' },
      operation: 'Echo',
      fragments: ['Seen'],
    });
    await expectSame('subscription { renamed: echo(ask: { text: "lit", deep: { lists: 1 } }, lists: [[2]]) { text } }');
  });

  it('refuses bad variables of every kind exactly as the generic executor does, and compiles nothing wrong for them', async () => {
    const query = 'subscription ($ask: Ask!, $n: Int, $mood: Mood, $lists: [[Int]]) { echo(ask: $ask, n: $n, mood: $mood, lists: $lists) { text } }';
    const bad: Record<string, unknown>[] = [
      {},
      { ask: null },
      { ask: 'text' },
      { ask: { text: null } },
      { ask: { text: 'a', unknown: 1 } },
      { ask: { text: 'a', f: 'NaN' } },
      { ask: { text: 'a', tags: [null] } },
      { ask: { text: 'a', deep: { x: 1.5 } } },
      { ask: { text: 'a', deep: { id: true } } },
      { ask: { text: 'a' }, n: 2 ** 31 },
      { ask: { text: 'a' }, n: '1' },
      { ask: { text: 'a' }, mood: 'SAD' },
      { ask: { text: 'a' }, lists: [['x']] },
      { ask: [{ text: 'a' }] },
    ];
    for (const variables of bad) {
      const outcome = await expectSame(query, variables);
      expect(outcome.results).toMatchObject([{ errors: expect.arrayContaining([expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })]) }]);
    }
    // A good subscription of the same document after the refusals still runs compiled.
    const good = await run(compiled, 'subscription ($ask: Ask!) { talk(ask: $ask, count: 1) { ... on Word { executedBy } } }', { ask: { text: 'a' } });
    expect(good.results[0]).toEqual({ data: { talk: { executedBy: 'compiled' } } });
  });

  it('codes and masks a refusal that comes after a turn (an async subscribe), and a resolver that returns no stream', async () => {
    const coded = await expectSame('subscription { later(code: "BUSY") { __typename } }');
    expect(coded.results).toMatchObject([{ errors: [{ message: 'later not', extensions: { code: 'BUSY' }, path: ['later'] }] }]);
    const masked = await expectSame('subscription { later(code: "PLAIN") { __typename } }');
    expect(masked.results).toMatchObject([{ errors: [{ message: 'Unexpected error.' }] }]);
    await expectSame('subscription { later(code: "NONE") { __typename } }');
  });

  it('builds the arguments from the variables as graphql-js does: defaults for absent ones, nulls, and its refusal of a null for a required one', async () => {
    const query = 'subscription ($ask: Ask = { text: "default" }, $count: Int) { talk(ask: $ask, count: $count) { ... on Word { text } ... on End { words } } }';
    const defaults = await expectSame(query, {});
    expect(defaults.results).toEqual([
      { data: { talk: { text: 'default' } } },
      { data: { talk: { text: 'default' } } },
      { data: { talk: { words: 2 } } },
    ]);
    await expectSame(query, { ask: { text: 'given' }, count: 1 });
    await expectSame(query, { ask: { text: 'given' }, count: null });
    const refused = await expectSame(query, { ask: null });
    expect(refused.results).toMatchObject([{ errors: [{ path: ['talk'] }] }]);
  });
});
