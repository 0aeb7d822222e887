import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import { AccessError } from '../auth/principal.js';

/**
 * Which web pages may talk to the gateway. A browser attaches `Origin` to every cross-origin
 * request and to every WebSocket upgrade, and lets a page read an answer only when the server
 * allows its origin (CORS); WebSockets have no such check, and simple requests (a form POST) run
 * whether or not the page may read the answer. So one rule decides for every transport, and is
 * enforced by the server rather than left to the browser:
 *
 * - no `Origin` (curl, SDKs, servers) and same-origin pages (the console, GraphiQL) are served;
 * - an origin listed in `server.corsOrigins` is served and gets CORS headers (no credentials:
 *   callers authenticate with bearer keys, never cookies);
 * - any other origin is refused (403 over HTTP, the upgrade refused for WebSocket) before anything
 *   runs.
 */

export type OriginVerdict =
  | { readonly kind: 'no-origin' | 'same-origin' | 'listed' }
  | { readonly kind: 'refused'; readonly error: AccessError };

export interface OriginPolicy {
  judge(req: IncomingMessage): OriginVerdict;
  /**
   * Adds CORS headers for a listed origin; answers a preflight (OPTIONS) itself and returns true
   * when it did.
   */
  applyCors(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Headers a page may read from answers: retry hints of refusals, and /v1's request id (the
 * OpenAI SDKs read it as `_request_id`) and feedback token (src/openai/openai-routes.ts).
 */
const EXPOSED_HEADERS = ['retry-after', 'retry-after-ms', 'x-request-id', 'x-switchyard-feedback-token'];

/** graphql-sse's single-connection mode reserves its stream with PUT and ends an operation with DELETE. */
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'];

export function createOriginPolicy(corsOrigins: readonly string[]): OriginPolicy {
  const listed = new Set(corsOrigins);
  const middleware = cors({
    origin: [...listed],
    methods: METHODS,
    credentials: false,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  return {
    judge(req) {
      const origin = req.headers.origin;
      if (origin === undefined) return { kind: 'no-origin' };
      if (isSameOrigin(origin, req.headers.host)) return { kind: 'same-origin' };
      if (listed.has(origin)) return { kind: 'listed' };
      return {
        kind: 'refused',
        error: new AccessError(
          'FORBIDDEN',
          `requests from the web origin ${JSON.stringify(origin.slice(0, 200))} are not allowed: list it in server.corsOrigins`,
        ),
      };
    },
    applyCors(req, res) {
      let handled = true;
      // cors answers a preflight itself (204) and calls next() for everything else, synchronously.
      middleware(req as never, res as never, () => {
        handled = false;
      });
      return handled;
    },
  };
}

/**
 * A page served by this gateway: its origin's host is the one the request was sent to. The
 * scheme is not compared, so a TLS-terminating proxy in front does not turn the console
 * cross-origin.
 */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
