import { buildApp } from './app.js';
import { CodedError } from './coded-error.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import { configuredSecrets } from './config/secrets.js';
import { createLogger } from './logger.js';

/** The process entry: configuration, logger, app, signals. Everything else is wired in buildApp. */
async function main(): Promise<void> {
  let config;
  let logger;
  let app;
  try {
    config = loadConfig(process.env);
    logger = createLogger(config.logLevel, undefined, configuredSecrets(config, process.env));
    app = buildApp({ config, logger, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  let url;
  try {
    ({ url } = await app.start());
  } catch (error) {
    // Release what was built (a Redis connection, timers) before the one line that says why.
    await app.stop().catch(() => undefined);
    throw error;
  }
  const consoleUrl = config.server.console ? new URL('/', url).href : null;
  logger.info(
    { url, console: consoleUrl, models: config.models.map((m) => m.id), arms: config.arms.map((a) => a.id), redis: Boolean(config.redis.url) },
    `Switchyard listening on ${url} (GraphiQL at the same address${consoleUrl ? `; the console at ${consoleUrl}` : ''})`,
  );

  let stopping = false;
  const shutdown = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // app.stop() bounds itself by shutdownTimeoutMs; this only catches a stop that overran its bounds.
    setTimeout(() => {
      logger.error({ shutdownTimeoutMs: config.server.shutdownTimeoutMs }, 'shutdown overran shutdownTimeoutMs: exiting');
      process.exit(1);
    }, config.server.shutdownTimeoutMs + 1_000).unref();
    app
      .stop()
      .then(() => process.exit(exitCode))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // A stray rejection is a bug to log, not a reason to drop every stream in flight.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  // After an uncaught exception the process state is unknown: save what can be saved and leave.
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    shutdown('uncaughtException', 1);
    setTimeout(() => process.exit(1), config.server.shutdownTimeoutMs).unref();
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`switchyard: ${error.message}\n`);
    process.exit(1);
  }
  // An expected failure (a port in use) is one line; an unexpected one keeps its stack.
  const reason = error instanceof CodedError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`switchyard: failed to start: ${reason}\n`);
  process.exit(1);
});
