import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONTEXT_SEGMENTS } from '../../src/router/context-path.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import {
  errorsOf,
  overHttp,
  overSse,
  overWebSocket,
  withLoopWatch,
  type OperationOutcome,
  type OperationRequest,
} from '../helpers/raw-operations.js';

/**
 * Issue 14, "bounded work per operation": one operation can no longer stall the process or make it
 * answer 500. Before, on the same wiring: 10,000 aliases of `arms { posterior probabilityBest }`
 * blocked the event loop 23 s (1,000 aliases: 3 s); `arms(context:)` with 1,000 path segments 10 s
 * and with 5,000 answered INTERNAL_SERVER_ERROR, like a selection 5,000 deep and a list value
 * 20,000 deep (the recursive parser overflowed the stack).
 *
 * Every probe runs over the three transports that execute operations (HTTP, SSE, graphql-ws) and
 * must be refused with its code, over WebSocket without closing the socket.
 *
 * The event-loop bound is the one derived in token-counting.test.ts (1,000 ms: what a refusal does
 * is a lexer pass over at most 2,000 tokens and a few validation rules, well under 10 ms, stretched
 * by a loaded 2-core machine); it is 3x below the shortest block it rules out (3 s).
 */
const LOOP_BLOCK_BOUND_MS = 1_000;

const aliases = (count: number, selection: string) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join(' ')} }`;
const analyzerFragments = readFileSync(new URL('../../src/client/operations/analyzer.graphql', import.meta.url), 'utf8')
  .split(/\n(?=query |subscription )/)[0]!;

interface Probe {
  readonly name: string;
  readonly request: OperationRequest;
  readonly code: string;
  /** `extensions.limit` of the refusal, for operation limits. */
  readonly limit?: string;
}

const probes: Probe[] = [
  { name: '10,000 aliases of arms { posterior probabilityBest }', request: { query: aliases(10_000, 'arms { posterior { mean } probabilityBest }') }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'maxTokens' },
  { name: '1,000 aliases of arms { posterior probabilityBest }', request: { query: aliases(1_000, 'arms { posterior { mean } probabilityBest }') }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'maxTokens' },
  { name: '16 aliases of arms (within the token limit)', request: { query: aliases(16, 'arms { probabilityBest }') }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'maxAliases' },
  { name: 'a selection 5,000 deep', request: { query: `{${' a {'.repeat(5_000)} b${' }'.repeat(5_001)}` }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'nesting' },
  { name: 'a selection 13 deep', request: { query: `{${' a {'.repeat(13)} b${' }'.repeat(14)}` }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'maxDepth' },
  { name: 'a list value 20,000 deep', request: { query: `{ arms(context: ${'['.repeat(20_000)}"x"${']'.repeat(20_000)}) { id } }` }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'nesting' },
  { name: '51 directives', request: { query: `{ ${Array.from({ length: 51 }, () => '__typename @include(if: true)').join(' ')} }` }, code: 'OPERATION_LIMIT_EXCEEDED', limit: 'maxDirectives' },
  {
    name: 'five analyzer snapshots in one query (cost ~25,000)',
    request: { query: `${analyzerFragments}\nquery Heavy { ...Q ...Q ...Q ...Q ...Q }\nfragment Q on Query { analyzer { ...AnalyzerFields } }` },
    code: 'OPERATION_LIMIT_EXCEEDED',
    limit: 'maxCost',
  },
  { name: 'arms(context:) with 1,000 path segments', request: { query: `{ arms(context: "${Array(1_000).fill('a').join('/')}") { posterior { mean } probabilityBest } }` }, code: 'INVALID_CONTEXT' },
  { name: 'arms(context:) with 5,000 path segments', request: { query: '{ arms(context: $c) { probabilityBest } }'.replace('$c', `"${Array(5_000).fill('a').join('/')}"`) }, code: 'INVALID_CONTEXT' },
  { name: 'armsInContext(context:) with 1,000 empty segments (short enough, too many)', request: { query: 'query ($c: String) { armsInContext(context: $c) { probabilityBest } }', variables: { c: '/'.repeat(999) } }, code: 'INVALID_CONTEXT' },
];

const transports: Array<[string, (gateway: RunningGateway, request: OperationRequest) => Promise<OperationOutcome>]> = [
  ['HTTP', (gateway, request) => overHttp(gateway.url, request)],
  ['SSE', (gateway, request) => overSse(gateway.url, request)],
  ['graphql-ws', (gateway, request) => overWebSocket(gateway.wsUrl, request)],
];

let gateway: RunningGateway;
/** The worst block per transport, printed for docs/reliability.md. */
const worstBlocks = new Map<string, number>();

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
  console.info(`operation limits: worst event-loop block ${[...worstBlocks].map(([t, ms]) => `${t} ${ms.toFixed(0)} ms`).join(', ')}`);
});

describe.each(transports)('bounded work per operation over %s', (transport, send) => {
  it.each(probes)('$name: refused with its code, the event loop never blocked', async ({ request, code, limit }) => {
    const { result, worstBlockMs } = await withLoopWatch(() => send(gateway, request));
    const errors = errorsOf(result);
    expect(result.results.every((r) => r.data === undefined || r.data === null)).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    // Every error has a code, never the masked INTERNAL_SERVER_ERROR; the one the probe is about is there.
    for (const error of errors) expect(error.extensions?.code, error.message).toMatch(/^[A-Z_]+$/);
    expect(errors.map((e) => e.extensions?.code)).not.toContain('INTERNAL_SERVER_ERROR');
    expect(errors.find((e) => e.extensions?.code === code && (limit === undefined || e.extensions.limit === limit))).toBeDefined();
    expect(result.status).not.toBe(500);
    if (transport === 'graphql-ws') expect(result.closed).toBeUndefined();
    worstBlocks.set(transport, Math.max(worstBlocks.get(transport) ?? 0, worstBlockMs));
    expect(worstBlockMs, `${transport}`).toBeLessThan(LOOP_BLOCK_BOUND_MS);
  });
});

describe('the limits leave every legitimate operation alone', () => {
  it('runs a context path of the most tags a chat may carry', async () => {
    const context = Array.from({ length: MAX_CONTEXT_SEGMENTS }, (_, i) => `tag-${i}`).join('/');
    const outcome = await overHttp(gateway.url, { query: '{ armsInContext(context: $c) { id probabilityBest } }'.replace('$c', JSON.stringify(context)) });
    expect(errorsOf(outcome)).toEqual([]);
  });

  it('runs the client package\'s and the console\'s queries and the analyzer subscription', async () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../../src/client/generated/persisted-documents.json', import.meta.url), 'utf8'),
    ) as Record<string, string>;
    const queries = Object.values(manifest).filter((text) => /^\s*(query|fragment)/m.test(text) && !/^\s*(subscription|mutation)/m.test(text));
    expect(queries.length).toBeGreaterThan(3);
    for (const query of queries) {
      const outcome = await overHttp(gateway.url, { query, variables: { id: 'none', requestId: 'none' } });
      expect(errorsOf(outcome).map((e) => e.extensions?.code)).not.toContain('OPERATION_LIMIT_EXCEEDED');
    }
    const console = readFileSync(new URL('../../console/operations/console.graphql', import.meta.url), 'utf8');
    const overview = await overHttp(gateway.url, { query: console, operationName: 'ConsoleOverview' });
    expect(errorsOf(overview)).toEqual([]);
    const metrics = await overWebSocket(gateway.wsUrl, {
      frames: [JSON.stringify({ id: 'm', type: 'subscribe', payload: { query: console, operationName: 'ConsoleMetrics', variables: { intervalMs: 60_000 } } })],
    }, { settleMs: 2_000 });
    expect(metrics.results.length).toBeGreaterThan(0);
    expect(errorsOf(metrics)).toEqual([]);
  });
});
