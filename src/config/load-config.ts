import { readFileSync } from 'node:fs';
import { configSchemas, type SwitchyardConfig } from './schema.js';
import { defaultConfig } from './default-config.js';
import { configErrorMap, formatIssues } from './format-issues.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The environment variables Switchyard reads; nothing else in the code reads process.env for config. */
export interface ConfigEnvironment {
  readonly SWITCHYARD_CONFIG?: string | undefined;
  readonly PORT?: string | undefined;
  readonly REDIS_URL?: string | undefined;
  readonly LOG_LEVEL?: string | undefined;
}

/** Validates a raw configuration object, throwing a ConfigError that lists every problem. */
export function parseConfig(raw: unknown, source = 'configuration', setBy: Readonly<Record<string, string>> = {}): SwitchyardConfig {
  const result = configSchemas().configSchema.safeParse(raw, { error: configErrorMap });
  if (!result.success) throw new ConfigError(formatIssues(result.error, source, setBy));
  return result.data;
}

/**
 * Reads the file named by SWITCHYARD_CONFIG (or the embedded default), applies the environment
 * overrides and validates the result once.
 */
export function loadConfig(env: ConfigEnvironment): SwitchyardConfig {
  let raw: Record<string, unknown>;
  let source = 'the embedded default';
  if (env.SWITCHYARD_CONFIG) {
    source = env.SWITCHYARD_CONFIG;
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read configuration file ${source}: ${(error as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`configuration file ${source} is not valid JSON: ${(error as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(`configuration file ${source} must hold a JSON object`);
    }
  } else {
    raw = structuredClone(defaultConfig) as unknown as Record<string, unknown>;
  }

  const overridden: Record<string, unknown> = { ...raw };
  const setBy: Record<string, string> = {};
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port)) throw new ConfigError(`PORT must be an integer, got "${env.PORT}"`);
    overridden.server = { ...(raw.server as object | undefined), port };
    setBy['server.port'] = `PORT=${env.PORT}`;
  }
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    overridden.redis = { ...(raw.redis as object | undefined), url: env.REDIS_URL };
    setBy['redis.url'] = 'REDIS_URL';
  }
  if (env.LOG_LEVEL !== undefined && env.LOG_LEVEL !== '') {
    overridden.logLevel = env.LOG_LEVEL;
    setBy['logLevel'] = `LOG_LEVEL=${env.LOG_LEVEL}`;
  }
  return parseConfig(overridden, source, setBy);
}
