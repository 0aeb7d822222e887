import { isIP } from 'node:net';
import { ConfigError } from '../config/load-config.js';

/**
 * Secure by default: callers without a key are served on loopback only, unless the operator says
 * otherwise. Binding any other interface needs client keys (auth.keys) or auth.allowUnauthenticated.
 */
export function requireSafeBinding(
  host: string | undefined,
  options: { readonly keysRequired: boolean; readonly allowUnauthenticated: boolean },
): void {
  if (options.keysRequired || options.allowUnauthenticated || isLoopback(host)) return;
  throw new ConfigError(
    `refusing to listen on ${host ?? 'every interface'} without client keys: anyone who can reach it could spend ` +
      'money and read every request. Configure auth.keys, listen on 127.0.0.1 (server.host), or set ' +
      'auth.allowUnauthenticated: true to serve callers without a key on purpose.',
  );
}

export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
