import type { SwitchyardConfig } from './schema.js';

/**
 * Every secret the configuration hands the process, so that one rule can keep them out of what
 * leaves it: error messages (a provider echoing a header back, see models/http-client.ts) and log
 * lines (see logger.ts). Metrics carry no free text, only ids.
 *
 * A model's headers and query parameters are all treated as secrets (an org id, a gateway token:
 * the configuration cannot tell which is which), with the token of a "Scheme token" value apart
 * too. Values shorter than MIN_SECRET_CHARS are left alone: too short to be a secret, and
 * redacting them would mangle ordinary text.
 */

export const MIN_SECRET_CHARS = 8;

/** The secrets of one HTTP model: its API key, header values and query values. */
export function modelSecrets(
  model: { readonly headers?: Readonly<Record<string, string>>; readonly query?: Readonly<Record<string, string>> },
  apiKey: string | undefined,
): string[] {
  return secretsOf([apiKey ?? '', ...Object.values(model.headers ?? {}), ...Object.values(model.query ?? {})]);
}

/** Every secret of the configuration and the environment it reads keys from. */
export function configuredSecrets(config: SwitchyardConfig, env: Readonly<Record<string, string | undefined>>): string[] {
  const values: string[] = [];
  for (const model of config.models) {
    const apiKey = model.provider === 'simulated' || model.apiKeyEnv === undefined ? undefined : env[model.apiKeyEnv];
    values.push(...(model.provider === 'simulated' ? [] : modelSecrets(model, apiKey)));
  }
  for (const key of config.auth.keys) if (key.env !== undefined) values.push(env[key.env] ?? '');
  if (config.server.adminTokenEnv !== undefined) values.push(env[config.server.adminTokenEnv] ?? '');
  return secretsOf(values);
}

function secretsOf(values: readonly string[]): string[] {
  const secrets = new Set<string>();
  for (const value of values) {
    const trimmed = value.trim();
    secrets.add(trimmed);
    // "Bearer abc…", "Basic abc…": the token alone may be quoted back.
    const token = /^[A-Za-z-]+\s+(\S+)$/.exec(trimmed)?.[1];
    if (token !== undefined) secrets.add(token);
  }
  // Longest first, so that a secret containing another is replaced whole.
  return [...secrets].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by "[redacted]". */
export function redactSecretValues(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  return out;
}
