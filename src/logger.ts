import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';
import { redactSecretValues } from './config/secrets.js';

export type { Logger };

/**
 * The one logger. Subsystems take `logger.child({ component })`. Credentials are redacted by path
 * wherever they would appear in a logged object, and every configured secret (config/secrets.ts)
 * by value in every line; code must still never put a key in a message.
 *
 * Without a destination it writes JSON lines to stdout, for log collectors and for the tests that
 * read a process's output, except on a terminal, where a person reads it: pretty lines there when
 * pino-pretty (a dev dependency) is installed.
 */
export function createLogger(level: string, destination?: DestinationStream, secrets: readonly string[] = []): Logger {
  // Every configured secret, as it appears in a JSON line (escaped) and raw, longest first.
  const forms = [...new Set(secrets.flatMap((s) => [JSON.stringify(s).slice(1, -1), s]))].sort((a, b) => b.length - a.length);
  return pino(
    {
      level,
      // Redaction by path misses a secret inside a message (a provider's error quoting a header);
      // this catches it by value in the finished line, whatever field carried it.
      ...(forms.length > 0 ? { hooks: { streamWrite: (line: string) => redactSecretValues(line, forms) } } : {}),
      base: { service: 'switchyard' },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'headers.authorization',
          'headers.Authorization',
          'headers["x-api-key"]',
          '*.headers.authorization',
          '*.headers.Authorization',
          '*.headers["x-api-key"]',
          'req.headers.authorization',
          'req.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? (level === 'silent' ? undefined : terminalDestination()),
  );
}

/** Pretty lines when stdout is a terminal and pino-pretty is there; undefined (JSON) otherwise. */
export function terminalDestination(isTerminal = process.stdout.isTTY === true): DestinationStream | undefined {
  if (!isTerminal) return undefined;
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
  return pino.transport({
    target: 'pino-pretty',
    options: {
      colorize: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service,component',
      messageFormat: '{if component}{component}: {end}{msg}',
    },
  });
}

/** A logger that writes nothing, for tests and tools that do not want output. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Whether a warning is the first of its kind, for at most `maxKinds` kinds (past them none is): data
 * a fleet writes (shared records, events) can be unreadable many times over, and one line per kind
 * tells an operator as much as a line per record.
 */
export function createFirstOfKind(maxKinds = 32): (kind: string) => boolean {
  const seen = new Set<string>();
  return (kind) => {
    if (seen.has(kind) || seen.size >= maxKinds) return false;
    seen.add(kind);
    return true;
  };
}
