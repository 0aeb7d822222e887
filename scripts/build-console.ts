import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the web console (console/) into dist/console/: app.js, app.css and index.html, which
 * the gateway serves at `/` (src/server/console-assets.ts). Everything it needs is bundled, so the
 * page works without any network beyond the gateway. `npm start`, `npm run build` and every vitest
 * run (test/helpers/build-console-setup.ts) build it first, so it is never stale.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
export const CONSOLE_OUT_DIR = `${root}dist/console`;

export async function buildConsole(outDir = CONSOLE_OUT_DIR): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: `${root}console/main.tsx` },
    outdir: outDir,
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    logLevel: 'warning',
    legalComments: 'linked',
  });
  copyFileSync(`${root}console/index.html`, `${outDir}/index.html`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole();
}
