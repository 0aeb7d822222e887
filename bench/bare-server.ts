/**
 * The benches' baseline: a bare graphql-yoga + graphql-ws server on Switchyard's schema (read from
 * schema.graphql) whose chat subscription is `chat`, wired the way Switchyard wires graphql-ws
 * through yoga's envelop pipeline, and nothing else. It imports no Switchyard code, so what it
 * costs is the libraries' floor.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';

/** The chat field's subscribe resolver: its root value and arguments, as graphql's executor passes them. */
export type BareChat = (root: unknown, args: Record<string, unknown>) => AsyncIterable<unknown>;

export async function startBareServer(chat: BareChat) {
  const yoga = createYoga({
    logging: false,
    schema: createSchema({
      typeDefs: readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'),
      resolvers: {
        ChatEvent: { __resolveType: (event: { __typename: string }) => event.__typename },
        Subscription: { chat: { subscribe: chat } },
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

