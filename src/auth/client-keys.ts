import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/load-config.js';
import type { ClientScope, SwitchyardConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { AccessError, type Principal } from './principal.js';

/**
 * The configured client keys, kept only as SHA-256 digests, and the rule for callers without one.
 * `server.adminTokenEnv` is an admin-scoped key named "admin" that on its own leaves the gateway
 * open to callers without a key (as before client keys existed).
 */

export interface KeyRing {
  /** True when every caller must present a key. */
  readonly required: boolean;
  /**
   * The principal a bearer token (or its absence) stands for; throws UNAUTHENTICATED. A caller
   * without a key is told apart by `remoteAddress`.
   */
  authenticate(token: string | undefined, remoteAddress?: string): Principal;
}

/** Keys shorter than this are refused: they could be guessed. */
export const MIN_KEY_CHARS = 16;

const ALL_SCOPES: readonly ClientScope[] = ['chat', 'feedback', 'read', 'pin', 'admin'];

interface StoredKey {
  readonly digest: Buffer;
  readonly principal: Principal;
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export function createKeyRing(
  config: Pick<SwitchyardConfig, 'auth' | 'server'>,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): KeyRing {
  const keys: StoredKey[] = config.auth.keys.map((key) => {
    let digest: Buffer;
    if (key.env !== undefined) {
      const value = env[key.env];
      if (!value) throw new ConfigError(`auth.keys "${key.id}" names ${key.env}, which is not set`);
      if (value.length < MIN_KEY_CHARS) {
        throw new ConfigError(`auth.keys "${key.id}": ${key.env} holds fewer than ${MIN_KEY_CHARS} characters`);
      }
      digest = digestOf(value);
    } else {
      digest = Buffer.from(key.sha256!, 'hex');
    }
    return { digest, principal: { keyId: key.id, client: key.id, scopes: new Set(key.scopes), limits: key.limits } };
  });
  const required = keys.length > 0;

  const adminEnv = config.server.adminTokenEnv;
  if (adminEnv !== undefined) {
    const token = env[adminEnv];
    // Refusing to start beats running with admin mutations silently open or silently closed.
    if (!token) throw new ConfigError(`server.adminTokenEnv names ${adminEnv}, which is not set`);
    if (token.length < MIN_KEY_CHARS) logger.warn(`the admin token in ${adminEnv} is short: use ${MIN_KEY_CHARS} characters or more`);
    keys.push({ digest: digestOf(token), principal: { keyId: 'admin', client: 'admin', scopes: new Set(ALL_SCOPES), limits: {} } });
  }

  const hasAdminKey = keys.some((key) => key.principal.scopes.has('admin'));
  if (!required && !hasAdminKey) {
    logger.warn('no admin key is configured (auth.keys or server.adminTokenEnv): admin mutations are open to every caller');
  }
  // Pinning is open to callers without a key (the console pins), within their pinned budget.
  const anonymousScopes = new Set<ClientScope>(hasAdminKey ? ['chat', 'feedback', 'read', 'pin'] : ALL_SCOPES);
  const anonymous = (remoteAddress: string | undefined): Principal => ({
    keyId: null,
    client: `anonymous@${remoteAddress ?? 'unknown'}`,
    scopes: anonymousScopes,
    limits: config.auth.anonymousLimits,
  });

  return {
    required,
    authenticate(token, remoteAddress) {
      if (token === undefined || token === '') {
        if (required) throw new AccessError('UNAUTHENTICATED', 'a client key is required (Authorization: Bearer <key>)');
        return anonymous(remoteAddress);
      }
      const digest = digestOf(token);
      // Every key is compared, in constant time, so timing tells nothing about which one came close.
      let match: Principal | null = null;
      for (const key of keys) {
        if (timingSafeEqual(digest, key.digest) && match === null) match = key.principal;
      }
      if (match) return match;
      // Without client keys, any bearer (SDKs insist on sending one) is an anonymous caller.
      if (required) throw new AccessError('UNAUTHENTICATED', 'the client key is not valid');
      return anonymous(remoteAddress);
    },
  };
}

/** The token of an `Authorization: Bearer <token>` value. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1];
}
