import { CodedError } from '../coded-error.js';
import type { ClientLimits, ClientScope } from '../config/schema.js';

/**
 * Who makes a request: a client key (by its id, never its value) or an anonymous caller, with the
 * scopes and limits that go with it. Who may use a request is decided in ./request-access.ts.
 */

export interface Principal {
  /** The key's id; null for a caller without a key. */
  readonly keyId: string | null;
  /**
   * Who the caller is for limits, connection counts and the weight of its feedback: the key id, or
   * `anonymous@<remote address>` without a key (not the connection or session, which a client can
   * change at will). Behind a proxy, every caller without a key shares the proxy's address.
   */
  readonly client: string;
  readonly scopes: ReadonlySet<ClientScope>;
  readonly limits: ClientLimits;
}

export type AccessErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN';

export class AccessError extends CodedError<AccessErrorCode> {
  override readonly name = 'AccessError';
}

/** The name a principal goes by in logs, metrics and limit counters. */
export function principalName(principal: Principal): string {
  return principal.client;
}

/** The admin scope includes every other. */
export function hasScope(principal: Principal, scope: ClientScope): boolean {
  return principal.scopes.has('admin') || principal.scopes.has(scope);
}
