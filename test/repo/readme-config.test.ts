import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchemas } from '../../src/config/schema.js';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** Every leaf field of the configuration, as a dotted path (`models[].baseUrl`). */
function fieldPaths(schema: JsonSchema, path = ''): string[] {
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return variants.flatMap((v) => fieldPaths(v, path));
  if (schema.type === 'object' && schema.properties && Object.keys(schema.properties).length > 0) {
    return Object.entries(schema.properties).flatMap(([key, value]) => fieldPaths(value, path ? `${path}.${key}` : key));
  }
  if (schema.type === 'array' && schema.items && (schema.items.properties || schema.items.anyOf || schema.items.oneOf)) {
    return fieldPaths(schema.items, `${path}[]`);
  }
  return [path];
}

describe('README documents the configuration', () => {
  it('names every configuration field', () => {
    const readme = readFileSync('README.md', 'utf8');
    const paths = [...new Set(fieldPaths(z.toJSONSchema(configSchemas().configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema))];
    expect(paths.length).toBeGreaterThan(50);
    const missing = paths.filter((path) => !readme.includes(`\`${path}\``));
    expect(missing).toEqual([]);
  });
});
