import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type execute, type ExecutionArgs, type GraphQLSchema, type subscribe } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import type { GraphQLContext, GraphQLServices } from '../graphql/context.js';
import { coalesceWebSocketWrites } from './websocket-write-coalescing.js';

/**
 * HTTP + WebSocket front door: graphql-yoga serves queries, mutations and SSE subscriptions;
 * graphql-ws serves subscriptions over WebSocket on the same port and path, through yoga's envelop
 * pipeline so both transports share the schema, context and error masking.
 */

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly [detail: string]: unknown;
}

export interface ServerOptions {
  readonly graphqlPath: string;
  readonly graphiql: boolean;
  readonly shutdownTimeoutMs: number;
}

export interface GatewayServerDeps {
  readonly schema: GraphQLSchema;
  readonly services: GraphQLServices;
  readonly logger: Logger;
  readonly options: ServerOptions;
  readonly health: () => HealthReport;
  /** The admin token; when undefined, admin mutations are open to every caller. */
  readonly adminToken?: string | undefined;
  /** Prometheus exposition for /metrics. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
}

export interface GatewayServer {
  /** Listens on `port` (0 picks a free one); resolves with the address clients should use. */
  start(port: number, host?: string): Promise<{ port: number; url: string; wsUrl: string }>;
  /** Stops accepting, closes WebSockets (aborting their streams), then waits for requests. */
  stop(): Promise<void>;
}

type YogaServerContext = { req: IncomingMessage; res: ServerResponse };

export function createGatewayServer(deps: GatewayServerDeps): GatewayServer {
  const { logger, options } = deps;
  const httpLogger = logger.child({ component: 'server' });
  let stopping = false;

  const yoga: YogaServerInstance<YogaServerContext, GraphQLContext> = createYoga<YogaServerContext, GraphQLContext>({
    schema: deps.schema,
    graphqlEndpoint: options.graphqlPath,
    context: (initial: AdminCredentials) => ({
      services: deps.services,
      admin: deps.adminToken === undefined || tokenMatches(bearerToken(initial), deps.adminToken),
    }),
    graphiql: options.graphiql
      ? { subscriptionsProtocol: 'WS', title: 'Switchyard', defaultQuery: GRAPHIQL_DEFAULT_QUERY }
      : false,
    // GraphiQL's assets are bundled rather than fetched from a CDN, so it works on closed networks;
    // they are imported on the first GraphiQL page, not at start-up (~40 MB of memory).
    renderGraphiQL: async (graphiqlOptions) =>
      (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions),
    landingPage: false,
    healthCheckEndpoint: '/livez',
    logging: {
      debug: (...args) => httpLogger.debug(args.map(String).join(' ')),
      info: (...args) => httpLogger.info(args.map(String).join(' ')),
      warn: (...args) => httpLogger.warn(args.map(String).join(' ')),
      error: (...args) => {
        const err = args.find((a) => a instanceof Error);
        httpLogger.error({ err }, args.filter((a) => !(a instanceof Error)).map(String).join(' ') || 'request failed');
      },
    },
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      if (stopping) return sendJson(res, 503, { status: 'stopping' });
      return sendJson(res, 200, deps.health());
    }
    if (path === '/metrics' && deps.metrics) {
      deps
        .metrics()
        .then(({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          httpLogger.error({ err: error }, 'metrics failed');
          sendJson(res, 500, { error: 'metrics failed' });
        });
      return;
    }
    void yoga.requestListener(req, res);
  });

  const wsServer = new WebSocketServer({ server: httpServer, path: options.graphqlPath });
  coalesceWebSocketWrites(wsServer);

  const wsDisposable = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args),
      subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args),
      onSubscribe: async (ctx, _id, payload: SubscribePayload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        // A throw here would close the socket and every subscription on it: return errors instead.
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        return args;
      },
    },
    wsServer,
  );

  return {
    start(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const hostForUrl = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
          const base = `${hostForUrl}:${address.port}${options.graphqlPath}`;
          resolve({ port: address.port, url: `http://${base}`, wsUrl: `ws://${base}` });
        });
      });
    },
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // Past the timeout, whatever is still open is cut: a client that ignores the close frame, or
      // a request still streaming, must not hold the shutdown.
      const sockets = [...wsServer.clients];
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.terminate();
        httpServer.closeAllConnections();
      }, options.shutdownTimeoutMs);
      timer.unref();
      // Closing sockets makes graphql-ws return() every subscription, which aborts model calls.
      await wsDisposable.dispose();
      httpServer.closeIdleConnections();
      await closed;
      clearTimeout(timer);
      await yoga.dispose();
    },
  };
}

/** Where a caller's credentials are: request headers over HTTP/SSE, connection params over WebSocket. */
interface AdminCredentials {
  readonly request?: Request;
  readonly connectionParams?: Readonly<Record<string, unknown>>;
}

function bearerToken(initial: AdminCredentials): string | undefined {
  const header =
    initial.request?.headers.get('authorization') ??
    (initial.connectionParams?.authorization as string | undefined) ??
    (initial.connectionParams?.Authorization as string | undefined);
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match?.[1];
}

/** Constant-time comparison, so response times do not reveal how much of a guess was right. */
function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
}

const GRAPHIQL_DEFAULT_QUERY = /* GraphQL */ `# Switchyard: subscribe to a routed, streamed chat.
subscription Chat {
  chat(input: { messages: [{ role: USER, content: "Explain Thompson sampling in one paragraph." }] }) {
    __typename
    ... on ChatRoute { requestId arm model context confidence cached }
    ... on ChatChunk { index text }
    ... on ChatDone { finishReason chunks metrics { latencyMs ttftMs costUsd reward } }
    ... on ChatError { code message partial }
  }
}

# Then tell the router how it went:
# mutation { submitFeedback(input: { requestId: "…", thumbs: UP }) { arm { id posterior { mean } } } }

query Arms {
  arms { id model pulls rewardMean probabilityBest posterior { mean lower95 upper95 } }
}
`;
