import { hash, randomFillSync, timingSafeEqual } from 'node:crypto';
import { CodedError } from '../coded-error.js';
import { AccessError, type Principal } from './principal.js';

/**
 * Who may read a request (its record and its shadow answer) and give it feedback or a comparison:
 * the one place that decides it, for every transport.
 *
 * - A request made with a client key belongs to that key: another key is refused with FORBIDDEN
 *   (keyed clients are known to the operator, so saying that the request exists leaks nothing
 *   they could not ask about).
 * - A request made without a key belongs to whoever holds its feedback token: an unguessable
 *   random string returned once, with the route event (ChatRoute.feedbackToken, and on /v1 the
 *   `x-switchyard-feedback-token` header and `switchyard.feedbackToken`). Without a token the
 *   caller is told one is needed, whether or not the request exists; with a wrong one the request
 *   is treated as unknown, so a guessed id says nothing about whether it exists.
 * - An admin *key* may read and rate any request. An anonymous caller that has the admin scope
 *   only because no admin key is configured does not: ownership does not depend on that.
 *
 * Only the token's SHA-256 digest is kept with the request, so a store of requests (memory today,
 * Redis later) holds nothing that grants access.
 */

export type RequestAccessErrorCode = 'FEEDBACK_TOKEN_REQUIRED';

export class RequestAccessError extends CodedError<RequestAccessErrorCode> {
  override readonly name = 'RequestAccessError';
}

/** 192 random bits: not guessable, and a short header value (32 base64url characters). */
const TOKEN_BYTES = 24;

/** What a request keeps to know its owner. */
export interface RequestOwnership {
  /** The client key id that made the request; null for a caller without a key. */
  readonly owner: string | null;
  /** Hex SHA-256 of the request's feedback token. */
  readonly tokenDigest: string;
}

export interface IssuedToken {
  /** Given to the client once; never stored. */
  readonly token: string;
  readonly digest: string;
}

// One-shot hash: no Hash object per chat.
const digestOf = (token: string): Buffer => hash('sha256', token, 'buffer');

/**
 * Random bytes for the next tokens, filled from the CSPRNG in one call per 170 tokens: a
 * randomBytes call per chat was 3% of the gateway's CPU. Each token's bytes are used once.
 */
const pool = Buffer.alloc(TOKEN_BYTES * 170);
let poolOffset = pool.length;

export function issueFeedbackToken(): IssuedToken {
  if (poolOffset + TOKEN_BYTES > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const token = pool.toString('base64url', poolOffset, poolOffset + TOKEN_BYTES);
  poolOffset += TOKEN_BYTES;
  return { token, digest: hash('sha256', token, 'hex') };
}

/** The outcome for a request that exists: readable, another key's, or not provably the caller's. */
export type RequestAccess = 'allowed' | 'forbidden' | 'hidden';

const isAdminKey = (principal: Principal): boolean => principal.keyId !== null && principal.scopes.has('admin');

/**
 * Called before the request is looked up: an anonymous caller must bring a token, and is told so
 * whether or not the request exists.
 */
export function requireTokenIfAnonymous(principal: Principal, token: string | null | undefined, requestId: string): void {
  if (principal.keyId === null && !token) {
    throw new RequestAccessError(
      'FEEDBACK_TOKEN_REQUIRED',
      `request "${requestId}": give the feedbackToken that came with its route event (callers without a client key prove a request is theirs with it)`,
    );
  }
}

export function accessTo(principal: Principal, request: RequestOwnership, token: string | null | undefined): RequestAccess {
  if (isAdminKey(principal)) return 'allowed';
  if (request.owner !== null) return principal.keyId === request.owner ? 'allowed' : 'forbidden';
  if (!token) return 'hidden';
  const given = digestOf(token);
  const expected = Buffer.from(request.tokenDigest, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'allowed' : 'hidden';
}

/**
 * The request if the caller may use it; undefined when it is unknown or not provably theirs;
 * FORBIDDEN when another key made it; FEEDBACK_TOKEN_REQUIRED for an anonymous caller without one.
 */
export function accessibleRequest<R extends RequestOwnership>(
  principal: Principal,
  requestId: string,
  token: string | null | undefined,
  lookup: (requestId: string) => R | undefined,
): R | undefined {
  requireTokenIfAnonymous(principal, token, requestId);
  const request = lookup(requestId);
  if (!request) return undefined;
  const access = accessTo(principal, request, token);
  if (access === 'forbidden') throw new AccessError('FORBIDDEN', `request "${requestId}" was made by another client`);
  return access === 'allowed' ? request : undefined;
}
