import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * Serves the web console: `/` is its page, `/console/*` its bundled assets, read once from
 * dist/console/ (built by scripts/build-console.ts). Nothing is fetched from elsewhere, so the
 * console works on a closed network; it talks to the gateway only through the public GraphQL API.
 */

/** dist/console beside src/ or dist/: the same folder under tsx and from a tsc build. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

// Same-origin only: the page's code, styles and its GraphQL WebSocket come from the gateway.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Returns a handler that answers the console's paths (true) and leaves every other path (false). */
export function createConsoleAssets(options: { graphqlPath: string; dir?: string }): ConsoleHandler {
  const dir = options.dir ?? CONSOLE_DIR;
  const assets = existsSync(`${dir}/index.html`) ? loadAssets(dir, options.graphqlPath) : null;

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    // A gateway whose GraphQL path is `/` keeps `/` for GraphQL and GraphiQL.
    if (path === options.graphqlPath || (path !== '/' && !path.startsWith('/console/'))) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    if (assets === null) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`The console is not built: run \`npm run build:console\`. GraphQL and GraphiQL are at ${options.graphqlPath}.\n`);
      return true;
    }
    const asset = assets.get(path === '/' ? 'index.html' : path.slice('/console/'.length));
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return true;
    }
    const headers = { ...SECURITY_HEADERS, 'content-type': asset.contentType, 'cache-control': 'no-cache', etag: asset.etag };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}

function loadAssets(dir: string, graphqlPath: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const extension = name.slice(name.lastIndexOf('.'));
    const contentType = CONTENT_TYPES[extension];
    if (!contentType) continue;
    let body = readFileSync(`${dir}/${name}`);
    // The page learns where GraphQL is from the server that serves it.
    if (name === 'index.html') body = Buffer.from(body.toString('utf8').replaceAll('%GRAPHQL_PATH%', escapeHtml(graphqlPath)));
    assets.set(name, { body, contentType, etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
  }
  return assets;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
