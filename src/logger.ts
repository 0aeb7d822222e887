import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The one logger. Subsystems take `logger.child({ component })`. Credentials are redacted by path
 * wherever they would appear in a logged object; code must still never put a key in a message.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
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
    destination,
  );
}

/** A logger that writes nothing, for tests and tools that do not want output. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
