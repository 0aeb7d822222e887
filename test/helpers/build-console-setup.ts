import { buildConsole } from '../../scripts/build-console.js';

/** vitest globalSetup: every test run serves the console built from the sources it tests. */
export default async function setup(): Promise<void> {
  await buildConsole();
}
