import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { configSchemas, type AnthropicModelConfig, type OpenAIModelConfig } from '../../src/config/schema.js';
import type { CompletionEvent } from '../../src/models/backend.js';

export function openaiConfig(baseUrl: string, overrides: Record<string, unknown> = {}): OpenAIModelConfig {
  const parsed = configSchemas().modelSchema.parse({ id: 'gpt', provider: 'openai', baseUrl, model: 'gpt-4o-mini', ...overrides });
  if (parsed.provider !== 'openai') throw new Error('unreachable');
  return parsed;
}

export function anthropicConfig(baseUrl: string, overrides: Record<string, unknown> = {}): AnthropicModelConfig {
  const parsed = configSchemas().modelSchema.parse({
    id: 'claude',
    provider: 'anthropic',
    baseUrl,
    model: 'claude-sonnet-4-5',
    ...overrides,
  });
  if (parsed.provider !== 'anthropic') throw new Error('unreachable');
  return parsed;
}

export interface Collected {
  readonly events: CompletionEvent[];
  readonly text: string;
  readonly error: unknown;
}

/** Reads a stream (of events, or of batches of events) to its end or its error. */
export async function collect(stream: AsyncIterable<CompletionEvent | readonly CompletionEvent[]>): Promise<Collected> {
  const events: CompletionEvent[] = [];
  let error: unknown;
  try {
    for await (const item of stream) {
      if (Array.isArray(item)) events.push(...(item as readonly CompletionEvent[]));
      else events.push(item as CompletionEvent);
    }
  } catch (e) {
    error = e;
  }
  const text = events.map((e) => (e.type === 'token' ? e.text : '')).join('');
  return { events, text, error };
}

/** A port on which nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word: a TLS handshake against it hangs. */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
