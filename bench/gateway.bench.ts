/**
 * Chat subscriptions through Switchyard (routing, chunking, learning) with a zero-latency
 * simulated model, against a bare graphql-yoga + graphql-ws server that serves the same schema
 * and yields the same events. Same process, same client, same query: the ratio is what
 * Switchyard's own work costs per chat.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { buildApp } from '../src/app.js';
import { ChatDocument, type ChatSubscription } from '../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../src/client/switchyard-client.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { runAtConcurrency, summarize } from './bench-kit.js';

const CHATS = 1_500;
const CONCURRENCY = [1, 16];

const config = parseConfig({
  logLevel: 'silent',
  models: [
    {
      id: 'zero',
      provider: 'simulated',
      ttftMs: 0,
      tokensPerSecond: 0,
      errorRate: 0,
      answerTokens: 60,
    },
  ],
  arms: [{ id: 'zero', model: 'zero' }],
  cache: { enabled: false },
  streaming: { pacing: { minMs: 0, maxMs: 0 } },
});

const variables = (i: number) => ({
  input: { messages: [{ role: 'USER' as const, content: `benchmark question ${i}` }], cache: false },
});

async function chatOnce(client: SwitchyardClient, i: number): Promise<ChatSubscription['chat'][]> {
  const events: ChatSubscription['chat'][] = [];
  for await (const result of client.subscribe(ChatDocument, variables(i))) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data!.chat);
  }
  return events;
}

async function startBareServer(events: ChatSubscription['chat'][]) {
  const yoga = createYoga({
    logging: false,
    schema: createSchema({
      typeDefs: readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'),
      resolvers: {
        ChatEvent: { __resolveType: (event: { __typename: string }) => event.__typename },
        Subscription: {
          chat: {
            subscribe: async function* () {
              for (const event of events) yield { chat: event };
            },
          },
        },
      },
    }),
  });
  const server = createServer(yoga);
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        const document = parse(payload.query);
        const errors = validate(schema, document);
        if (errors.length) return errors;
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function run(): Promise<void> {
  const app = buildApp({ config, logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  const switchyard = createSwitchyardClient({ url: wsUrl, lazy: false });
  const sample = await chatOnce(switchyard, -1);
  const bare = await startBareServer(sample);
  const bareClient = createSwitchyardClient({ url: bare.wsUrl, lazy: false });
  console.log(`${CHATS} chats per run, ${sample.length} events per chat (route, ${sample.length - 2} chunks, done); query: ${print(ChatDocument).length} chars`);

  try {
    // Warm both paths (JIT, connection) before measuring.
    await runAtConcurrency(200, 16, (i) => chatOnce(switchyard, i));
    await runAtConcurrency(200, 16, (i) => chatOnce(bareClient, i));
    for (const concurrency of CONCURRENCY) {
      const bareRun = await runAtConcurrency(CHATS, concurrency, (i) => chatOnce(bareClient, i));
      const yardRun = await runAtConcurrency(CHATS, concurrency, (i) => chatOnce(switchyard, i));
      const bareSummary = summarize(bareRun);
      const yardSummary = summarize(yardRun);
      console.log(
        `concurrency ${String(concurrency).padStart(2)}: bare yoga ${bareSummary.perSecond.toFixed(0)} chats/s ` +
          `(p50 ${bareSummary.p50.toFixed(2)} ms) | Switchyard ${yardSummary.perSecond.toFixed(0)} chats/s ` +
          `(p50 ${yardSummary.p50.toFixed(2)} ms) | throughput ratio Switchyard/bare ${(yardSummary.perSecond / bareSummary.perSecond).toFixed(2)}`,
      );
    }
  } finally {
    await bareClient.dispose();
    await switchyard.dispose();
    await bare.close();
    await app.stop();
  }
}
