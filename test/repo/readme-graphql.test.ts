import { readFileSync } from 'node:fs';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.js';

/** Every GraphQL example in the README runs against the real schema. */
describe('README GraphQL examples', () => {
  const readme = readFileSync('README.md', 'utf8');
  const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const operations = blocks.flatMap((block) => block.split(/\n(?=(?:query|mutation|subscription)\b)/));

  it('has examples', () => {
    expect(operations.length).toBeGreaterThan(5);
  });

  it.each(operations.map((op) => [op.trim().split('\n')[0]!.slice(0, 60), op]))('%s', (_title, operation) => {
    expect(validate(schema, parse(operation)).map((e) => e.message)).toEqual([]);
  });
});
