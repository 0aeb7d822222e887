import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken, type KeyRing } from '../auth/client-keys.js';
import { AccessError, principalName, type Principal } from '../auth/principal.js';
import { requireScope } from '../auth/scopes.js';
import { CodedError } from '../coded-error.js';
import type { OperationLimitsConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { SlotLimiter } from '../limits/limiter-store.js';
import { boundedParserCache } from './parser-cache.js';
import { createEarlyChatRefusal, useEarlyChatRefusal } from './early-chat-refusal.js';
import { executeEnveloped, prepareEnvelopedOperation, subscribeEnveloped } from './enveloped-operation.js';
import { useMultipartSubscriptions } from './multipart-subscriptions.js';
import { useCodedRequestErrors } from './coded-request-errors.js';
import { useCompiledSubscriptionEvents } from './compiled-subscriptions.js';
import { useOperationLimits } from './operation-limits.js';
import { createOriginPolicy } from './origin-policy.js';
import { useCodedNotAcceptable } from './not-acceptable.js';
import { useEventSourceEnd } from './event-source-end.js';
import { useGraphQLSSESingleConnection } from './sse-single-connection.js';
import { createOperationGate, useOperationGate, type TrustedDocumentsOptions } from './trusted-documents.js';
import type { GraphQLContext, GraphQLServices } from '../graphql/context.js';
import { useScopes } from '../graphql/scope-plugin.js';
import { createConsoleAssets } from './console-assets.js';
import { graphiqlDocument } from './graphiql-document.js';
import { createRequestSessionOf, type SessionCredentials } from './request-session.js';
import { refuseOversizedBody } from './request-size.js';
import { watchSlowReaders } from './slow-reader-watchdog.js';
import { coalesceWebSocketWrites } from './websocket-write-coalescing.js';
import { withFields } from '../with-fields.js';

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
  /** Web origins allowed besides the gateway's own (see origin-policy.ts). */
  readonly corsOrigins?: readonly string[];
  readonly shutdownTimeoutMs: number;
}

export interface GatewayServerDeps {
  readonly schema: GraphQLSchema;
  readonly services: GraphQLServices;
  readonly logger: Logger;
  readonly options: ServerOptions;
  readonly health: () => HealthReport;
  /** Who callers are, by their bearer key (HTTP, SSE, /v1) or connectionParams (graphql-ws). */
  readonly keys: KeyRing;
  /** More HTTP routes on the same port (the OpenAI-compatible API); they format their own errors. */
  readonly routes?: readonly HttpRoute[];
  /** Prometheus exposition for /metrics. */
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  /** When set, only these documents run (see `server.trustedDocuments`). */
  readonly trustedDocuments?: TrustedDocumentsOptions | null;
  /**
   * Stops taking chats and waits for those in flight until `cutAt` (a `performance.now()` time),
   * ends the rest with SHUTTING_DOWN, and resolves once they are read to their end or at `giveUpAt`.
   */
  readonly drainChats: (cutAt: number, giveUpAt: number) => Promise<void>;
  /** What one operation may ask for (`limits.operations`). */
  readonly operationLimits: OperationLimitsConfig;
  /** Largest HTTP body and WebSocket message read (see request-size.ts). */
  readonly maxRequestBytes: number;
  /** Bounds on what one client holds open (see `capacity`). */
  readonly connections: ConnectionLimits;
  /** The coded refusal a chat would get now from admission (src/limits/capacity.ts), or null; see early-chat-refusal.ts. */
  readonly chatRefusal?: () => CodedError | null;
}

export interface ConnectionLimits {
  readonly maxSubscriptionsPerConnection: number;
  /** A client that does not read is cut (see src/server/slow-reader-watchdog.ts). */
  readonly maxWriteBufferBytes: number;
  readonly slowReaderTimeoutMs: number;
  readonly maxConnectionsPerClient: number;
  /** Where open WebSocket connections are counted per client. */
  readonly slots: SlotLimiter;
}

export interface GatewayServer {
  /** Listens on `port` (0 picks a free one); resolves with the address clients should use. */
  start(port: number, host?: string): Promise<{ port: number; url: string; wsUrl: string }>;
  /** Stops accepting, closes WebSockets (aborting their streams), then waits for requests. */
  stop(): Promise<void>;
}

/** A caller's principal, or why they have none. */
export type Authentication = Principal | AccessError;

export interface HttpRoute {
  matches(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, auth: Authentication): void;
  /**
   * Answers a refusal the server made before `handle` ran (a body too large, the instance
   * stopping, too many connections) in the route's own error shape: its clients (the OpenAI SDKs)
   * read nothing from a GraphQL-shaped body.
   */
  refuse(res: ServerResponse, error: CodedError): void;
}

type YogaServerContext = { req: IncomingMessage; res: ServerResponse; principal?: Principal };

export function createGatewayServer(deps: GatewayServerDeps): GatewayServer {
  const { logger, options } = deps;
  const httpLogger = logger.child({ component: 'server' });
  let stopping = false;
  const gate = createOperationGate(deps.trustedDocuments ?? null);
  const sessionOf = createRequestSessionOf();
  const origins = createOriginPolicy(options.corsOrigins ?? []);
  const earlyRefusal = createEarlyChatRefusal({ chatRefusal: deps.chatRefusal ?? (() => null) });

  const yoga: YogaServerInstance<YogaServerContext, GraphQLContext> = createYoga<YogaServerContext, GraphQLContext>({
    schema: deps.schema,
    graphqlEndpoint: options.graphqlPath,
    context: (initial: SessionCredentials & { principal?: Principal }) => {
      const { principal } = initial;
      // Only GraphiQL's page is served without a principal; nothing may execute there.
      if (!principal) throw new GraphQLError('a client key is required', { extensions: { code: 'UNAUTHENTICATED' } });
      return { services: deps.services, principal, session: sessionOf(initial, principal) };
    },
    graphiql: options.graphiql
      ? () => ({ subscriptionsProtocol: 'WS', title: 'Switchyard', defaultQuery: graphiqlDocument() })
      : false,
    // GraphiQL's assets are bundled rather than fetched from a CDN, so it works on closed networks;
    // they are imported on the first GraphiQL page, not at start-up (~40 MB of memory).
    renderGraphiQL: async (graphiqlOptions) =>
      (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions),
    landingPage: false,
    // CORS is decided for every route at once, before yoga (see origin-policy.ts).
    cors: false,
    maxRequestBodySize: deps.maxRequestBytes,
    parserAndValidationCache: boundedParserCache(),
    extraParamNames: ['documentId'],
    plugins: [
      useEarlyChatRefusal(earlyRefusal),
      useOperationLimits(deps.operationLimits),
      useCodedRequestErrors(deps.maxRequestBytes),
      useOperationGate(gate),
      useScopes(),
      useCompiledSubscriptionEvents(),
      useGraphQLSSESingleConnection({ path: options.graphqlPath, gate }),
      useEventSourceEnd(),
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

  const authenticate = (token: string | undefined, request: IncomingMessage): Authentication => {
    try {
      return deps.keys.authenticate(token, request.socket.remoteAddress);
    } catch (error) {
      if (error instanceof AccessError) return error;
      throw error;
    }
  };
  const refuse = (res: ServerResponse, error: AccessError) => {
    res.setHeader('www-authenticate', 'Bearer');
    sendJson(res, error.code === 'UNAUTHENTICATED' ? 401 : 403, {
      errors: [{ message: error.message, extensions: { code: error.code } }],
    });
  };

  const serveConsole = options.console === false ? null : createConsoleAssets({ graphqlPath: options.graphqlPath });

  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const origin = origins.judge(req);
    if (origin.kind === 'refused') {
      const route = deps.routes?.find((r) => r.matches(path));
      if (route) return route.handle(req, res, origin.error);
      return sendJson(res, 403, { errors: [{ message: origin.error.message, extensions: { code: origin.error.code } }] });
    }
    if (origin.kind === 'listed' && origins.applyCors(req, res)) return;
    const route = deps.routes?.find((r) => r.matches(path));
    const declaredBytes = Number(req.headers['content-length'] ?? 0);
    if (declaredBytes > deps.maxRequestBytes) {
      return refuseOversizedBody(req, deps.maxRequestBytes, (error) => sendRefusal(res, route, 413, error));
    }
    if (serveConsole?.(req, res)) return;
    if (path === '/health') {
      if (stopping) return sendJson(res, 503, { status: 'stopping' });
      return sendJson(res, 200, deps.health());
    }
    if (stopping && path !== '/livez') {
      // Balancers read /health; a request that still arrives is told to go elsewhere.
      res.setHeader('connection', 'close');
      return sendRefusal(
        res,
        route,
        503,
        new CodedError('SHUTTING_DOWN', 'this instance is stopping; retry, another instance will answer', { retryAfter: 1 }),
      );
    }
    const auth = path === '/livez' ? null : authenticate(bearerToken(req.headers.authorization), req);
    if (auth === null || auth instanceof AccessError) return serve(req, res, path, auth, route);
    // A client's HTTP requests in flight (an SSE stream for its whole life) hold connection slots,
    // the same per-client slots as its WebSockets: no transport lets one client hold more.
    void deps.connections.slots.tryAcquire(principalName(auth), deps.connections.maxConnectionsPerClient).then(
      (lease) => {
        if (!lease) return refuseConnection(res, route);
        res.once('close', () => lease.release());
        serve(req, res, path, auth, route);
      },
      (error: unknown) => {
        httpLogger.error({ err: error }, 'connection slot failed');
        serve(req, res, path, auth, route);
      },
    );
  });

  /**
   * An error the server answers itself (a refusal made before anything served the request, a path
   * nothing serves, a failed scrape), in the error shape of the route it was for (see
   * HttpRoute.refuse), GraphQL's elsewhere; `retryAfter` in its details (seconds) is also sent as
   * `retry-after`.
   */
  const sendRefusal = (res: ServerResponse, route: HttpRoute | undefined, status: number, error: CodedError) => {
    if (route) return route.refuse(res, error);
    const retryAfter = error.details['retryAfter'];
    if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
    sendJson(res, status, { errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }] });
  };

  const refuseConnection = (res: ServerResponse, route: HttpRoute | undefined) => {
    const message = `TOO_MANY_CONNECTIONS: at most ${deps.connections.maxConnectionsPerClient} requests in flight and sockets open per client`;
    sendRefusal(res, route, 429, new CodedError('TOO_MANY_CONNECTIONS', message, { retryAfter: 1 }));
  };

  const serve = (req: IncomingMessage, res: ServerResponse, path: string, auth: Authentication | null, route: HttpRoute | undefined) => {
    if (route) return route.handle(req, res, auth!);
    if (auth instanceof AccessError && !isGraphiQLPage(req, path, options)) return refuse(res, auth);
    if (path === '/metrics' && deps.metrics) {
      try {
        requireScope(auth as Principal, 'http.metrics');
      } catch (error) {
        if (error instanceof AccessError) return refuse(res, error);
        throw error;
      }
      deps
        .metrics()
        .then(({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          httpLogger.error({ err: error }, 'metrics failed');
          sendRefusal(res, undefined, 500, new CodedError('INTERNAL_ERROR', 'metrics failed'));
        });
      return;
    }
    // Yoga answers any other path with an empty 404: a client is told what it asked for instead.
    if (path !== options.graphqlPath && path !== '/livez') {
      return sendRefusal(res, undefined, 404, new CodedError('NOT_FOUND', `no such path: ${req.method ?? 'GET'} ${path} (GraphQL is at ${options.graphqlPath})`));
    }
    void yoga.handle(req, res, auth instanceof AccessError || auth === null ? {} : { principal: auth });
  };

  const slowReaders = watchSlowReaders(httpServer, {
    maxWriteBufferBytes: deps.connections.maxWriteBufferBytes,
    slowReaderTimeoutMs: deps.connections.slowReaderTimeoutMs,
    onCut: (details) => httpLogger.warn(details, 'cut a client that stopped reading'),
  });

  // Upgrades are routed by hand rather than by attaching the WebSocket server to the HTTP server:
  // attached, it re-emits every HTTP server error (a port in use) as its own, which graphql-ws
  // reports as an internal error. A message past maxPayload closes its socket with 1009 before it
  // is buffered whole.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: deps.maxRequestBytes });
  httpServer.on('upgrade', (request, socket, head) => {
    if ((request.url ?? '/').split('?')[0] !== options.graphqlPath) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    if (stopping) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n');
      return;
    }
    const origin = origins.judge(request);
    if (origin.kind === 'refused') {
      const body = JSON.stringify({ errors: [{ message: origin.error.message, extensions: { code: origin.error.code } }] });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });
  coalesceWebSocketWrites(wsServer);

  /**
   * One slot per open socket, freed when it closes. A client past its limit is closed with 4429
   * (graphql-ws clients do not retry it) and the code in the reason.
   */
  const holdConnectionSlot = async (socket: WebSocket, owner: string): Promise<boolean> => {
    const lease = await deps.connections.slots.tryAcquire(owner, deps.connections.maxConnectionsPerClient);
    if (!lease) {
      socket.close(4429, `TOO_MANY_CONNECTIONS: at most ${deps.connections.maxConnectionsPerClient} per client`);
      return false;
    }
    if (socket.readyState === socket.CLOSING || socket.readyState === socket.CLOSED) lease.release();
    else socket.once('close', () => lease.release());
    return true;
  };

  const wsDisposable = useServer<Record<string, unknown>, { request: IncomingMessage; principal?: Principal }>(
    {
      // Close reasons of internal errors say "Internal server error", never the error's own text.
      isProd: true,
      // Refused at connection_init (close 4403), so a socket without a valid key runs nothing.
      onConnect: (ctx) => {
        const params = ctx.connectionParams ?? {};
        const auth = authenticate(
          bearerToken(params.authorization ?? params.Authorization) ?? bearerToken(ctx.extra.request.headers.authorization),
          ctx.extra.request,
        );
        if (auth instanceof AccessError) return false;
        ctx.extra.principal = auth;
        return holdConnectionSlot(ctx.extra.socket, principalName(auth));
      },
      execute: executeEnveloped,
      subscribe: subscribeEnveloped,
      onSubscribe: (ctx, _id, payload: SubscribePayload) => {
        // graphql-ws's own record of the operations in flight, this one included: nothing to drift.
        const inFlight = Object.keys(ctx.subscriptions).length;
        if (inFlight > deps.connections.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(
              `this connection has ${deps.connections.maxSubscriptionsPerConnection} operations in flight; complete one first`,
              { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } },
            ),
          ];
        }
        // Refused before parse and validation while the instance is full (a lookup of the document).
        const refusal = earlyRefusal.refusal(payload.query);
        if (refusal) return [refusal];
        return prepareEnvelopedOperation(
          yoga,
          gate,
          withFields(ctx, { req: ctx.extra.request, socket: ctx.extra.socket, principal: ctx.extra.principal }),
          payload,
        );
      },
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
      const deadline = performance.now() + options.shutdownTimeoutMs;
      // The last part of the timeout is kept for the cut streams' last events and the closes.
      const grace = Math.min(1_000, options.shutdownTimeoutMs / 4);
      stopping = true;
      const sockets = new Set(wsServer.clients);
      // Past the timeout, whatever is still open is cut: a client that ignores the close frame, or
      // one that does not read, must not hold the shutdown.
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.terminate();
        httpServer.closeAllConnections();
      }, Math.max(0, deadline - performance.now()));
      timer.unref();
      // The listener stays open meanwhile: /health says 503, other new requests get SHUTTING_DOWN.
      await deps.drainChats(deadline - 2 * grace, deadline - grace);
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // Closing sockets (1001) makes graphql-ws return() what is left (metrics subscriptions).
      await wsDisposable.dispose();
      httpServer.closeIdleConnections();
      // What is still open over HTTP is no chat (those are over): a metrics stream, a query.
      const rest = setTimeout(() => httpServer.closeAllConnections(), Math.max(0, Math.min(grace, deadline - performance.now())));
      rest.unref();
      await closed;
      slowReaders.stop();
      clearTimeout(rest);
      clearTimeout(timer);
      await yoga.dispose();
    },

  };
}

/** GraphiQL's page is only assets: a browser cannot send a key to load it, and it runs nothing by itself. */
function isGraphiQLPage(req: IncomingMessage, path: string, options: ServerOptions): boolean {
  return (
    options.graphiql &&
    req.method === 'GET' &&
    path === options.graphqlPath &&
    !(req.url ?? '').includes('?') &&
    (req.headers.accept ?? '').includes('text/html')
  );
}

