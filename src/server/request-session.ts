import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { createInterner } from '../interner.js';

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

/** Distinct named and key sessions whose strings are shared between requests (see createInterner). */
const INTERNED_SESSIONS = 4_096;

export function createRequestSessionOf(): RequestSessionOf {
  // The whole session string, one per connection: each request record keeps its session, and a
  // string built per request would be a copy of the same text in every record (docs/performance.md,
  // "Ninth pass").
  const connectionSessions = new WeakMap<object, string>();
  const { intern } = createInterner(INTERNED_SESSIONS);
  return (credentials, principal) => {
    const session = credentials.connectionParams?.session ?? credentials.request?.headers.get(SESSION_HEADER);
    if (typeof session === 'string' && SESSION_PATTERN.test(session)) return intern(`session:${session}`);
    if (principal.keyId !== null) return intern(`key:${principal.keyId}`);
    const socket = credentials.socket;
    if (socket === undefined) return null;
    let id = connectionSessions.get(socket);
    if (id === undefined) {
      id = `connection:${randomUUID()}`;
      connectionSessions.set(socket, id);
    }
    return id;
  };
}
