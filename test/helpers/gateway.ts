import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src/app.js';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { SwitchyardConfig } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { ModelBackend } from '../../src/models/backend.js';

/** Four zero-latency simulated models of known quality, one arm each: fast tests, same wiring. */
export function testConfigInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const model = (id: string, quality: number, outputPer1k: number) => ({
    id,
    provider: 'simulated',
    ttftMs: 0,
    tokensPerSecond: 0,
    errorRate: 0,
    quality,
    inputPer1k: outputPer1k / 2,
    outputPer1k,
    answerTokens: 40,
  });
  return {
    logLevel: 'silent',
    models: [model('m-weak', 0.3, 0.0002), model('m-fair', 0.5, 0.001), model('m-good', 0.7, 0.004), model('m-best', 0.9, 0.01)],
    arms: [
      { id: 'weak', model: 'm-weak' },
      { id: 'fair', model: 'm-fair' },
      { id: 'good', model: 'm-good' },
      { id: 'best', model: 'm-best' },
    ],
    bandit: { seed: 7 },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    ...overrides,
    // Tests read figures right after they teach: no shared view (analyzer.sharedViewMs) unless asked.
    analyzer: { sharedViewMs: 0, ...(overrides.analyzer as Record<string, unknown> | undefined) },
  };
}

/** Collects every log line so tests can assert on what was (not) logged. */
export function createCapturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger(level, destination), lines };
}

export interface RunningGateway {
  readonly app: App;
  readonly config: SwitchyardConfig;
  readonly url: string;
  readonly wsUrl: string;
  readonly client: SwitchyardClient;
  close(): Promise<void>;
}

export async function startGateway(
  options: {
    config?: Record<string, unknown>;
    backends?: ReadonlyMap<string, ModelBackend>;
    env?: Record<string, string | undefined>;
    logger?: Logger;
  } = {},
): Promise<RunningGateway> {
  const config = parseConfig(options.config ?? testConfigInput());
  const app = buildApp({
    config,
    logger: options.logger ?? createLogger('silent'),
    env: options.env ?? {},
    backends: options.backends,
  });
  const { url, wsUrl } = await app.start(0, '127.0.0.1');
  const client = createSwitchyardClient({ url: wsUrl });
  return {
    app,
    config,
    url,
    wsUrl,
    client,
    async close() {
      await client.dispose();
      await app.stop();
    },
  };
}

/** POSTs a GraphQL operation over HTTP and returns the JSON body. */
export async function postGraphQL(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as never;
}

/** Subscribes over SSE (graphql-yoga's built-in transport) and collects every `next` payload. */
export async function subscribeSse(
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<Array<{ data?: Record<string, unknown>; errors?: unknown[] }>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok || !response.body) throw new Error(`SSE request failed: ${response.status}`);
  const results: Array<{ data?: Record<string, unknown>; errors?: unknown[] }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => line && !line.startsWith(':'))
          .map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon), line.slice(colon + 1).trimStart()];
          }),
      );
      if (fields.event === 'complete') return results;
      if (fields.event === 'next' && fields.data) results.push(JSON.parse(fields.data));
    }
  }
  return results;
}
