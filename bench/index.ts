/**
 * `npm run bench [-- name ...]`: runs every bench/*.bench.ts (or those whose name contains one of
 * the arguments), one after another in this process. Each prints its own figures and ratios
 * against a baseline measured in the same run.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const files = readdirSync(dir)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

for (const file of files) {
  console.log(`\n=== ${file.replace('.bench.ts', '')} ===`);
  const started = performance.now();
  const bench = (await import(pathToFileURL(`${dir}/${file}`).href)) as { run: () => Promise<void> };
  await bench.run();
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
