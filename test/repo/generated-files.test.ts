import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSortedSchema } from '../../src/graphql/schema.js';

describe('generated files are fresh', () => {
  it('schema.graphql matches the Pothos schema (run `npm run schema:print`)', () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(printSortedSchema());
  });

  it('the typed client matches schema.graphql and the operations (run `npm run codegen`)', () => {
    const result = spawnSync('npx', ['graphql-codegen', '--config', 'codegen.ts', '--check'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  });
});
