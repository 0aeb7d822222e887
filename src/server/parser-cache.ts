import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * yoga's parser cache (parsed documents and parse errors, by document text), bounded by the text it
 * holds as well as by count. yoga's own holds 1,024 documents and 1,024 errors of any size: under
 * the fuzzer (multi-megabyte documents, each refused once) they pinned ~200 MB, and the old
 * generation's collections over that heap were the longest pauses of the event loop (issue 14: the
 * worst `/livez` answer of `npm run fuzz:long`). A document past `MAX_DOCUMENT_CHARS` is parsed
 * each time (a linear pass, refused by the operation limits when it is hostile), never kept.
 */

const MAX_DOCUMENTS = 1_024;
/** The largest document kept: 8x the largest operation the gateway ships (console, ~2 kB). */
const MAX_DOCUMENT_CHARS = 16 * 1024;
/** Document text kept per cache, all entries together. */
const MAX_CHARS = 2 * 1024 * 1024;
/** As yoga's: a document not asked for in an hour is forgotten. */
const TTL_MS = 3_600_000;

const boundedCache = <T extends object>() =>
  new LRUCache<string, T>({
    max: MAX_DOCUMENTS,
    maxSize: MAX_CHARS,
    maxEntrySize: MAX_DOCUMENT_CHARS,
    sizeCalculation: (_value, key) => Math.max(1, key.length),
    ttl: TTL_MS,
  });

/** The `parserAndValidationCache` option of createYoga. */
export function boundedParserCache() {
  return { documentCache: boundedCache<DocumentNode>(), errorCache: boundedCache<object>() };
}
