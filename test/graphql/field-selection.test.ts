import { buildSchema, execute, parse, type GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectsField } from '../../src/graphql/field-selection.js';
import { rootCoordinates } from '../../src/graphql/scope-plugin.js';

const schema = buildSchema(`
  type Route { arm: String explanation: String }
  type Query { route: Route other: Route }
`);

/** What `selectsField(info, 'Route', 'explanation')` said for `route`, each time the document runs. */
function askedFor(source: string) {
  const document = parse(source);
  return (variables: Record<string, unknown> = {}) => {
    const answers: boolean[] = [];
    // A root value's function is called as (args, context, info) by graphql-js' default resolver.
    const resolve = (_args: unknown, _context: unknown, info: GraphQLResolveInfo) => {
      answers.push(selectsField(info, 'Route', 'explanation'));
      return {};
    };
    const result = execute({ schema, document, variableValues: variables, rootValue: { route: resolve } });
    expect((result as { errors?: unknown }).errors).toBeUndefined();
    return answers;
  };
}

describe('selectsField', () => {
  it('answers a document without @skip or @include the same every time, through fragments', () => {
    const direct = askedFor('{ route { arm explanation } }');
    const spread = askedFor('{ route { ...R } } fragment R on Route { explanation }');
    const absent = askedFor('{ route { arm } }');
    for (let i = 0; i < 3; i++) {
      expect(direct()).toEqual([true]);
      expect(spread()).toEqual([true]);
      expect(absent()).toEqual([false]);
    }
  });

  it('reads @skip and @include from each request\'s variables, the same document run again', () => {
    const run = askedFor('query ($x: Boolean!) { route { arm ... on Route @include(if: $x) { explanation } } }');
    expect(run({ x: true })).toEqual([true]);
    expect(run({ x: false })).toEqual([false]);
    expect(run({ x: true })).toEqual([true]);
    const skipped = askedFor('query ($x: Boolean!) { route { explanation @skip(if: $x) } }');
    expect(skipped({ x: true })).toEqual([false]);
    expect(skipped({ x: false })).toEqual([true]);
    expect(skipped({ x: true })).toEqual([false]);
  });

  it('merges the selections of a field selected twice', () => {
    const run = askedFor('{ route { arm } route { explanation } }');
    expect(run()).toEqual([true]);
    expect(run()).toEqual([true]);
  });
});

describe('rootCoordinates', () => {
  it('lists the root fields of the named operation, fragments included', () => {
    const document = parse('query A { route { arm } ...Q } query B { other { arm } } fragment Q on Query { other { arm } }');
    expect(rootCoordinates(document, 'A')).toEqual(['Query.route', 'Query.other']);
    expect(rootCoordinates(document, 'B')).toEqual(['Query.other']);
    expect(() => rootCoordinates(document, 'C')).toThrow('no such operation');
  });
});
