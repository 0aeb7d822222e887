import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Tests that use @switchyard/client as another project would (README snippets, the scratch-project
 * install) load packages/client/dist: rebuild it once, before any test, when src/client has changed
 * since it was built (npm install builds it too).
 */
export default function buildClientPackage(): void {
  const built = mtime('packages/client/dist/index.js');
  const sources = ['src/client', 'packages/client/package.json', 'packages/client/tsconfig.json'].flatMap(files);
  if (sources.every((file) => mtime(file) <= built)) return;
  execFileSync('npm', ['run', 'build:client'], { stdio: 'ignore', timeout: 120_000 });
}

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -Infinity;
  }
}
