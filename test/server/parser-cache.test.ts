import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { boundedParserCache } from '../../src/server/parser-cache.js';

describe('the bounded parser cache', () => {
  it('keeps the documents clients send again, not the huge ones, and holds at most 2 MiB of text', () => {
    const { documentCache } = boundedParserCache();
    const small = '{ arms { id } }';
    documentCache.set(small, parse(small));
    expect(documentCache.get(small)).toBeDefined();
    const huge = `{ arms(context: "${'x'.repeat(20_000)}") { id } }`;
    documentCache.set(huge, parse(huge));
    expect(documentCache.get(huge)).toBeUndefined();
    // 300 documents of 10 kB: the oldest go once 2 MiB of text is held.
    const docs = Array.from({ length: 300 }, (_, i) => `{ a${i}: arms(context: "${'y'.repeat(10_000)}") { id } }`);
    for (const doc of docs) documentCache.set(doc, parse(doc));
    expect(documentCache.get(docs[0]!)).toBeUndefined();
    expect(documentCache.get(docs[299]!)).toBeDefined();
    expect(docs.filter((doc) => documentCache.get(doc)).length).toBeLessThanOrEqual((2 * 1024 * 1024) / 10_000);
  });
});
