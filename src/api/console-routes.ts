import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { apiKeyAuth } from './api-key-auth.ts';
import type { ApiApp } from './api-types.ts';
import type { ConsoleConfig } from './console-config.ts';

/** Where `scripts/setup.sh` (and the Dockerfile) put the built console: `dist/console` in the package. */
export const CONSOLE_BUNDLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** What the console's page needs from the server besides the public API. */
export type ConsoleOptions = {
  /** Folder of the built console (`index.html`, `assets/`). Default `CONSOLE_BUNDLE_DIR`. */
  bundleDir?: string | undefined;
  /** Base URL of the Temporal Web UI, for each session's "open in Temporal" link; without it the page shows none. */
  temporalUiUrl?: string | undefined;
  /** Namespace the session workflows run in. Default `default`. */
  temporalNamespace?: string | undefined;
};

/** True when the console has been built into `bundleDir`. */
export function consoleBundleExists(bundleDir: string = CONSOLE_BUNDLE_DIR): boolean {
  return existsSync(`${bundleDir}/index.html`);
}

const MISSING_PAGE = `<!doctype html><meta charset="utf-8"><title>Longhaul console</title>
<p>The Longhaul web console is not built. Run <code>npm run setup</code> (or <code>npm run build:console</code>) in the Longhaul folder, then reload.</p>`;

/**
 * Serves the web console under `/console`: the static bundle (hashed assets cached for a
 * year, everything else revalidated), the page's routes falling back to `index.html`,
 * and `/console/config.json` behind the API key. The shell holds no data; every datum
 * the page shows comes from the public API with the key the user typed.
 */
export function registerConsoleRoutes(app: ApiApp, { apiKeys, bundleDir = CONSOLE_BUNDLE_DIR, temporalUiUrl, temporalNamespace = 'default' }: ConsoleOptions & { apiKeys: Iterable<string> }): void {
  app.use('/console/config.json', apiKeyAuth({ apiKeys }));
  app.get('/console/config.json', (c) => {
    const config: ConsoleConfig = { temporal_ui_url: temporalUiUrl?.replace(/\/+$/, '') ?? null, temporal_namespace: temporalNamespace };
    c.header('Cache-Control', 'no-store');
    return c.json(config);
  });
  if (!consoleBundleExists(bundleDir)) {
    app.get('/console', (c) => c.html(MISSING_PAGE, 503));
    app.get('/console/*', (c) => c.html(MISSING_PAGE, 503));
    return;
  }
  // serveStatic refuses `..`, backslashes and encoded separators, so nothing outside the folder is reachable.
  const assets = serveStatic({
    root: bundleDir,
    rewriteRequestPath: (path) => path.replace(/^\/console/, ''),
    onFound: (path, c) => {
      // Vite names assets after their content hash: a changed file is a new URL.
      c.header('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const shell = serveStatic({ root: bundleDir, path: 'index.html', onFound: (_path, c) => c.header('Cache-Control', 'no-cache') });
  app.get('/console', (c) => c.redirect('/console/', 301));
  // A missing asset is a 404, not the page: a stale tab asking for an old hash must not parse HTML as script.
  app.get('/console/*', assets, (c, next) => (c.req.path.startsWith('/console/assets/') ? next() : shell(c, next)));
}
