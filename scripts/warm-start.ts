import { parseArgs } from 'node:util';
import { CodedError } from '../src/coded-error.js';
import { ConfigError, loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { readReplayFile, ReplayFormatError } from '../src/replay/replay-file.js';
import { loggedRow } from '../src/replay/replay-runner.js';
import type { LoggedRow } from '../src/learning/warm-start.js';
import { warmStartStateFile } from '../src/learning/warm-start-file.js';

/**
 * npm run warm-start -- --data FILE [--weight W]
 * Teaches the router's saved state (router.stateFile of the configuration SWITCHYARD_CONFIG names)
 * the outcomes logged in FILE, in the replay format, plain or gzipped. Run it while the server is stopped.
 */

const USAGE = 'usage: SWITCHYARD_CONFIG=switchyard.json npm run warm-start -- --data FILE [--weight W]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({ options: { data: { type: 'string' }, weight: { type: 'string' } }, strict: true }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (!values.data) fail('--data is required');
  const config = loadConfig(process.env);
  const weight = values.weight === undefined ? config.router.warmStart.weight : Number(values.weight);
  if (!(Number.isFinite(weight) && weight > 0)) fail(`--weight must be a positive number, got "${values.weight}"`);
  const rows: LoggedRow[] = [];
  // Every row is read and checked before any is applied: a bad line leaves the state untouched.
  for await (const row of readReplayFile(values.data)) rows.push(loggedRow(row));
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const summary = await warmStartStateFile(config, rows, logger, weight);
  process.stdout.write(
    `taught ${summary.outcomes} logged outcomes from ${summary.rows} rows (weight ${weight}) ` +
      `into ${summary.stateFile}: ${summary.contexts} contexts\n` +
      (summary.unmatchedModels.length > 0
        ? `skipped models no arm answers to (map them in router.warmStart.models): ${summary.unmatchedModels.join(', ')}\n`
        : ''),
  );
}

main().catch((error: unknown) => {
  // A coded error (a bad row, learned state of a newer format) is one line; an unexpected one keeps its stack.
  const expected = error instanceof ConfigError || error instanceof ReplayFormatError || error instanceof CodedError;
  const { code, path } = error as NodeJS.ErrnoException;
  const message =
    expected ? (error as Error).message
    : code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' ? `cannot read ${path} (${code})`
    : ((error as Error).stack ?? String(error));
  process.stderr.write(`warm-start: ${message}\n`);
  process.exit(1);
});
