import { randomUUID } from 'node:crypto';

/**
 * Who a request belongs to, so that `recentRequests` lists a caller's own requests and nobody
 * else's. This is the one place that decides it; client keys, when they exist, make the key the
 * owner here.
 *
 * Until then the owner is the session the client names (connectionParams.session over WebSocket,
 * the `x-switchyard-session` header over HTTP and SSE: a random string the client keeps, like the
 * console does per browser tab), else the WebSocket connection itself. A session is not a
 * credential: it only groups requests, and is as private as the client keeps it. An HTTP caller
 * without one owns nothing it could list later.
 */

export const SESSION_HEADER = 'x-switchyard-session';

/** Long enough not to be guessed, short and plain enough to be a key. */
const SESSION_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** What the server knows of a caller when it builds the GraphQL context. */
export interface OwnerCredentials {
  /** HTTP and SSE. */
  readonly request?: Request;
  /** WebSocket. */
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  /** WebSocket: the connection, to own requests when no session is named. */
  readonly socket?: object;
}

export type RequestOwnerOf = (credentials: OwnerCredentials) => string | null;

export function createRequestOwnerOf(): RequestOwnerOf {
  const connectionIds = new WeakMap<object, string>();
  return (credentials) => {
    const session = credentials.connectionParams?.session ?? credentials.request?.headers.get(SESSION_HEADER);
    if (typeof session === 'string' && SESSION_PATTERN.test(session)) return `session:${session}`;
    const socket = credentials.socket;
    if (socket === undefined) return null;
    let id = connectionIds.get(socket);
    if (id === undefined) {
      id = randomUUID();
      connectionIds.set(socket, id);
    }
    return `connection:${id}`;
  };
}
