import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';

/**
 * Which session a request is listed under, so that `recentRequests` shows a caller its own
 * requests and nobody else's. This is the one place that decides it. Listing is not access:
 * who may read a request or give feedback on it is decided by its owner (the client key; see
 * src/chat/chat-gate.ts).
 *
 * The session is the one the client names (connectionParams.session over WebSocket, the
 * `x-switchyard-session` header over HTTP and SSE: a random string the client keeps, like the
 * console does per browser tab), else the caller's client key, else the WebSocket connection
 * itself. An anonymous HTTP caller without a session has nothing it could list later.
 */

export const SESSION_HEADER = 'x-switchyard-session';

/** Long enough not to be guessed, short and plain enough to be a key. */
const SESSION_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** What the server knows of a caller when it builds the GraphQL context. */
export interface SessionCredentials {
  /** HTTP and SSE. */
  readonly request?: Request;
  /** WebSocket. */
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  /** WebSocket: the connection, to list requests when no session is named. */
  readonly socket?: object;
}

/** A session that is one WebSocket connection: it lives on one instance, so it is never listed in a shared store. */
export function isConnectionSession(session: string): boolean {
  return session.startsWith('connection:');
}

export type RequestSessionOf = (credentials: SessionCredentials, principal: Principal) => string | null;

export function createRequestSessionOf(): RequestSessionOf {
  const connectionIds = new WeakMap<object, string>();
  return (credentials, principal) => {
    const session = credentials.connectionParams?.session ?? credentials.request?.headers.get(SESSION_HEADER);
    if (typeof session === 'string' && SESSION_PATTERN.test(session)) return `session:${session}`;
    if (principal.keyId !== null) return `key:${principal.keyId}`;
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
