import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { CodedError } from '../coded-error.js';
import type { Logger } from '../logger.js';
import { executeEnveloped, prepareEnvelopedOperation, subscribeEnveloped } from './enveloped-operation.js';
import { useMultipartSubscriptions } from './multipart-subscriptions.js';
import { useCodedNotAcceptable } from './not-acceptable.js';
import { useGraphQLSSESingleConnection } from './sse-single-connection.js';
import { createOperationGate, useOperationGate, type TrustedDocumentsOptions } from './trusted-documents.js';
import type { GraphQLContext, GraphQLServices } from '../graphql/context.js';
import { createConsoleAssets } from './console-assets.js';
import { graphiqlDocument } from './graphiql-document.js';
import { createRequestOwnerOf, type OwnerCredentials } from './request-owner.js';

/**
 * HTTP + WebSocket front door: graphql-yoga serves queries, mutations and subscriptions over SSE
 * and multipart HTTP; graphql-sse's handler serves its single-connection mode; graphql-ws serves
 * subscriptions over WebSocket. All on the same port and path, all through yoga's envelop pipeline,
 * so every transport shares the schema, context, trusted-document gate and error masking.
 */

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly [detail: string]: unknown;
}

export interface ServerOptions {
  readonly graphqlPath: string;
  readonly graphiql: boolean;
  /** Serve the web console at `/` (default true). */
  readonly console?: boolean;
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
  /** When set, only these documents run (see `server.trustedDocuments`). */
  readonly trustedDocuments?: TrustedDocumentsOptions | null;
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
  const gate = createOperationGate(deps.trustedDocuments ?? null);
  const ownerOf = createRequestOwnerOf();

  const yoga: YogaServerInstance<YogaServerContext, GraphQLContext> = createYoga<YogaServerContext, GraphQLContext>({
    schema: deps.schema,
    graphqlEndpoint: options.graphqlPath,
    context: (initial: AdminCredentials & OwnerCredentials) => ({
      services: deps.services,
      admin: deps.adminToken === undefined || tokenMatches(bearerToken(initial), deps.adminToken),
      owner: ownerOf(initial),
    }),
    graphiql: options.graphiql
      ? () => ({ subscriptionsProtocol: 'WS', title: 'Switchyard', defaultQuery: graphiqlDocument() })
      : false,
    // GraphiQL's assets are bundled rather than fetched from a CDN, so it works on closed networks.
    renderGraphiQL,
    landingPage: false,
    extraParamNames: ['documentId'],
    plugins: [
      useOperationGate(gate),
      useGraphQLSSESingleConnection({ path: options.graphqlPath, gate }),
      // Result processors, after yoga's own: multipart for subscriptions, then a coded 406.
      useMultipartSubscriptions(),
      useCodedNotAcceptable(),
    ],
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

  const serveConsole = options.console === false ? null : createConsoleAssets({ graphqlPath: options.graphqlPath });

  const httpServer = createServer((req, res) => {
    if (serveConsole?.(req, res)) return;
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

  // Upgrades are routed by hand rather than by attaching the WebSocket server to the HTTP server:
  // attached, it re-emits every HTTP server error (a port in use) as its own, which graphql-ws
  // reports as an internal error.
  const wsServer = new WebSocketServer({ noServer: true });
  httpServer.on('upgrade', (request, socket, head) => {
    if ((request.url ?? '/').split('?')[0] !== options.graphqlPath) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });

  const wsDisposable = useServer<Record<string, unknown>, { request: IncomingMessage }>(
    {
      execute: executeEnveloped,
      subscribe: subscribeEnveloped,
      onSubscribe: (ctx, _id, payload: SubscribePayload) =>
        prepareEnvelopedOperation(
          yoga,
          gate,
          { ...ctx, req: ctx.extra.request, socket: ctx.extra.socket },
          payload,
        ),
    },
    wsServer,
  );

  return {
    start(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) =>
          reject(
            error.code === 'EADDRINUSE'
              ? new CodedError('PORT_IN_USE', `port ${port} is already in use: stop what holds it, or set PORT (server.port)`)
              : error,
          );
        httpServer.once('error', onError);
        httpServer.listen(port, host, () => {
          httpServer.off('error', onError);
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

